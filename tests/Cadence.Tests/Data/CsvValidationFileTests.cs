using Cadence.Data;
using Cadence.TestSupport;

namespace Cadence.Tests.Data;

public sealed class CsvValidationFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-csv");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_separate_validation_file_is_standardized_with_the_training_statistics()
    {
        string train = _dir.Write("train.csv", "a,b,cls\n1,10,x\n3,10,y\n5,10,x\n");
        string valid = _dir.Write("valid.csv", "a,b,cls\n3,11,y\n");
        var data = CsvTabular.Load(train, "cls", validPath: valid);
        Assert.Equal(3, data.Train.Count);
        Assert.Equal(1, data.Valid.Count);
        Assert.Equal([3.0, 10.0], data.FeatureMean);
        Assert.Equal([2.0, 1.0], data.FeatureStd);                       // b is constant: std 1
        Assert.Equal([0f, 1f], data.Valid.Features.data<float>().ToArray());
        Assert.Equal(["x", "y"], data.ClassNames);
        Assert.Equal([1L], data.Valid.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Other_columns_or_an_unseen_class_in_the_validation_file_are_errors_naming_it()
    {
        string train = _dir.Write("train.csv", "a,cls\n1,x\n2,y\n");
        string columns = _dir.Write("columns.csv", "b,cls\n1,x\n");
        Assert.Equal($"{columns}: expected the columns of {train} (a, cls), found b, cls",
            Assert.Throws<DataFormatException>(() => CsvTabular.Load(train, "cls", validPath: columns)).Message);
        string unseen = _dir.Write("unseen.csv", "a,cls\n1,x\n2,z\n");
        Assert.Equal($"{unseen}: data row 2: class 'z' does not occur in the training file {train} (its classes: x, y)",
            Assert.Throws<DataFormatException>(() => CsvTabular.Load(train, "cls", validPath: unseen)).Message);
    }
}
