using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>
/// What a new user tried (issue 15's list): one spelling per thing across commands, the old spellings still
/// accepted, and the same mistake worded the same way by every command.
/// </summary>
public sealed class NewUserTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-newuser");

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run(args[0], args[1..]);

    [Fact]
    public void Schedule_help_is_the_schedules_not_the_global_one()
    {
        var (code, output, _) = Run("schedule", "--help");
        Assert.Equal(0, code);
        Assert.Contains("cadence schedule <POLICY> [OPTIONS]", output);
        Assert.Contains("--explain", output);
        Assert.DoesNotContain("lr-find", output);   // the global help lists every command
    }

    [Fact]
    public void The_same_bad_lr_is_worded_the_same_by_schedule_fit_and_compare()
    {
        const string problem = "--lr: expects a number or a comma-separated list of numbers, got 'fast'";
        Assert.Equal($"cadence schedule: {problem}", Run("schedule", "constant", "--lr", "fast", "--iterations", "3").Err.Trim());
        Assert.Equal($"cadence fit: {problem}", Run("fit", "--lr", "fast").Err.Trim());
        Assert.Equal($"cadence fit: {problem}", Run("fit", "--schedule", "constant", "--lr", "fast").Err.Trim());
        Assert.Equal($"cadence compare: SCHEDULE 'constant lr=fast': lr: expects a number or a comma-separated list of numbers, got 'fast'",
            Run("compare", "constant lr=fast").Err.Trim());
    }

    [Theory]
    [InlineData("fit")]
    [InlineData("lr-find")]
    [InlineData("compare")]
    [InlineData("sweep")]
    public void Subset_states_one_range_in_every_command(string command)
    {
        string[] rest = command switch { "compare" => ["constant lr=0.1"], "sweep" => ["constant", "--lr", "0.1"], _ => [] };
        TestData.AssertUsageError(TestData.Run(command, ["--subset", "1.5", .. rest]), $"cadence {command}: --subset: must be in (0, 1], got 1.5");
    }

    [Fact]
    public void Old_spellings_still_work_for_one_release()
    {
        // schedule --format json|csv|table → --json, --csv, the chart
        Assert.Equal(Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--json").Out, Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--format", "json").Out);
        Assert.Equal(Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--csv").Out, Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--format", "csv").Out);
        Assert.Equal(Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5").Out, Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--format", "table").Out);
        // --plot FILE → --plots FILE
        string a = _temp["a.svg"], b = _temp["b.svg"];
        Assert.Equal(0, Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--plot", a).Code);
        Assert.Equal(0, Run("schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--plots", b).Code);
        Assert.All(new[] { a, b }, f => Assert.Equal("svg", System.Xml.Linq.XDocument.Load(f).Root!.Name.LocalName));
        // the hidden spellings stay out of the help
        var help = Run("schedule", "--help").Out;
        Assert.DoesNotContain("--format", help);
        Assert.DoesNotContain("--plot ", help);
        Assert.DoesNotContain("--iterations", Run("lr-find", "--help").Out);
    }

    [Fact]
    public void Numbers_for_people_have_one_form_everywhere()
    {
        var (_, output, _) = Run("schedule", "fit", "--lr", "0.01", "--cycle-len", "3", "--use-clr", "32,5", "--batches-per-epoch", "100", "--explain");
        // the last lr in the summary, and in the explanation's words
        Assert.Contains("last 0.000352865", output);
        Assert.Contains("ends at 0.000352865", output);
        Assert.Equal("1.31768E-07", Schedules.NumberFormat.Human(1.317677e-07));
        Assert.Equal("1.317677E-07", Schedules.NumberFormat.Exact(1.317677e-07));
    }
}
