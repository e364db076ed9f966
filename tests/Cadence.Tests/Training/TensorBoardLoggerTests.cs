using Cadence.TestSupport;
using System.Buffers.Binary;
using System.Text;
using Cadence.Callbacks;
using Cadence.Schedules;
using Cadence.Training;
using Xunit;

namespace Cadence.Tests.Training;

public sealed class TensorBoardLoggerTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-tb");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Event_file_holds_every_scalar_the_recorder_saw()
    {
        var logger = new TensorBoardLogger(Path.Combine(_dir, "run"));
        using var learn = Synth.Learner(opt: OptimizerFactory.Sgd(), callbacks: [logger]);
        learn.Fit(0.05, cycleLen: 1, useClr: new UseClr(10, 4, 0.95, 0.85));

        var file = Assert.Single(Directory.GetFiles(logger.LogDirectory, "events.out.tfevents.*"));
        var scalars = ReadScalars(file);
        var steps = learn.Recorder.Steps;
        Assert.Equal(steps.Count, scalars.Count(s => s.Tag == "train/loss"));
        foreach (var s in steps)
        {
            Assert.Contains(((int)s.Step, "train/loss", (float)s.Loss), scalars);
            Assert.Contains(((int)s.Step, "train/smooth_loss", (float)s.SmoothLoss), scalars);
            for (int g = 0; g < 3; g++)
            {
                Assert.Contains(((int)s.Step, $"lr/group{g}", (float)s.Lr[g]), scalars);
                Assert.Contains(((int)s.Step, $"momentum/group{g}", (float)s.Momentum[g]), scalars);
            }
        }
        var epoch = learn.Recorder.Epochs[0];
        Assert.Contains((1, "valid/loss", (float)epoch.ValidLoss), scalars);
        Assert.Contains((1, "valid/accuracy", (float)epoch.Metrics[0]), scalars);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TensorBoardLogger(_dir, every: 0));
    }

    /// <summary>Reads (step, tag, simple_value) from a TFRecord file of tensorflow.Event protos.</summary>
    private static List<(int Step, string Tag, float Value)> ReadScalars(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new List<(int, string, float)>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(pos));
            var ev = bytes.AsSpan(pos + 12, (int)length);   // u64 length, u32 crc, data, u32 crc
            pos += 12 + (int)length + 4;
            long step = 0;
            var values = new List<(string, float)>();
            foreach (var (field, _, data) in Fields(ev.ToArray()))
            {
                if (field == 2) step = (long)data.Varint;
                if (field == 5)
                    foreach (var (f, _, value) in Fields(data.Bytes!))
                        if (f == 1) values.Add(Value(value.Bytes!));
            }
            result.AddRange(values.Select(v => ((int)step, v.Item1, v.Item2)));
        }
        return result;
    }

    private static (string, float) Value(byte[] message)
    {
        string tag = "";
        float value = float.NaN;
        foreach (var (f, _, d) in Fields(message))
        {
            if (f == 1) tag = Encoding.UTF8.GetString(d.Bytes!);
            if (f == 2) value = BitConverter.Int32BitsToSingle((int)d.Varint);
        }
        return (tag, value);
    }

    private readonly record struct Field(ulong Varint, byte[]? Bytes);

    private static IEnumerable<(int Field, int Wire, Field Data)> Fields(byte[] m)
    {
        int i = 0;
        ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = m[i++];
                v |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return v;
            }
        }
        while (i < m.Length)
        {
            ulong key = Varint();
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return (field, wire, new Field(Varint(), null)); break;
                case 1: yield return (field, wire, new Field(BitConverter.ToUInt64(m, i), null)); i += 8; break;
                case 5: yield return (field, wire, new Field(BitConverter.ToUInt32(m, i), null)); i += 4; break;
                case 2:
                    int len = (int)Varint();
                    yield return (field, wire, new Field(0, m[i..(i + len)]));
                    i += len;
                    break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
    }
}
