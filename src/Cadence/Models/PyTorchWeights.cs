using System.Collections;
using System.Globalization;
using Cadence.Data;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Cadence.Models;

/// <summary>
/// PyTorch state dicts in and out: <c>.pt</c>/<c>.pth</c> files written by <c>torch.save(model.state_dict(), f)</c>
/// (read and written with TorchSharp.PyBridge) and <c>.safetensors</c> files. Loading checks every tensor against the
/// model before anything is copied: a file that does not fit is refused naming the first tensor that differs.
/// </summary>
public static class PyTorchWeights
{
    /// <summary>The tensors of a state-dict file, by name (float64/float16 tensors as they are stored).</summary>
    /// <exception cref="DataFormatException">Missing, unreadable, or not a state dict (name → tensor).</exception>
    public static IReadOnlyDictionary<string, Tensor> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        bool safetensors = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
        try
        {
            if (safetensors) return Safetensors.LoadStateDict(path);
            return StateDict(path, PyTorchUnpickler.UnpickleStateDict(path));
        }
        catch (Exception e) when (e is not DataFormatException and not OutOfMemoryException)
        {
            throw new DataFormatException(path,
                $"cannot read it as a PyTorch state dict ({(safetensors ? "safetensors" : "torch.save of model.state_dict()")}): {e.Message}", e);
        }
    }

    private static Dictionary<string, Tensor> StateDict(string path, Hashtable table)
    {
        // fastai's learn.save writes {'model': state_dict, 'opt': …}; some scripts write {'state_dict': …}.
        foreach (var key in new[] { "model", "state_dict" })
            if (table[key] is Hashtable inner && table.Keys.Cast<object>().All(k => k is string)) return StateDict(path, inner);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in table)
        {
            if (e.Key is not string name || e.Value is not Tensor t)
                throw new DataFormatException(path, $"expected a state dict (tensor names to tensors), found an entry '{e.Key}' of type {e.Value?.GetType().Name ?? "null"}");
            result[name] = t;
        }
        return result;
    }

    /// <summary>
    /// Copies a state dict into <paramref name="model"/> after checking all of it: every tensor the model has must be in
    /// the file with the model's shape and no other tensor may be there, except for two adaptations (fastai's) that are
    /// reported in the returned lines: a head (<paramref name="head"/> weight and bias) with another number of classes is
    /// left as initialized — a new head; and a three-channel <paramref name="firstConv"/> loaded into a one-channel
    /// model takes the sum over the three input channels.
    /// </summary>
    /// <param name="model">The model (its parameters and buffers are overwritten).</param>
    /// <param name="path">The weights file.</param>
    /// <param name="head">Name prefix of the head that may be replaced (e.g. <c>fc</c>), or null for none.</param>
    /// <param name="firstConv">Name of the first convolution's weight that may be adapted to one channel (e.g. <c>conv1.weight</c>), or null.</param>
    /// <returns>One line per adaptation made (nothing when the file fitted as it was).</returns>
    /// <exception cref="DataFormatException">The file cannot be read, or does not fit the model (the first differing tensor is named).</exception>
    public static IReadOnlyList<string> Load(nn.Module model, string path, string? head = null, string? firstConv = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = Read(path);
        var messages = new List<string>();
        var theirs = new Dictionary<string, Tensor>(file, StringComparer.Ordinal);
        if (theirs.Count > 0 && theirs.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal)))
        {
            theirs = theirs.ToDictionary(kv => kv.Key["module.".Length..], kv => kv.Value, StringComparer.Ordinal);
            messages.Add("weights saved from a DataParallel model: the 'module.' prefix of every name is dropped");
        }
        var mine = model.state_dict();
        string kind = model.GetName();
        var plan = new List<(Tensor Target, Func<Tensor> Source)>();
        bool newHead = false;
        foreach (var (name, target) in mine)
        {
            if (!theirs.TryGetValue(name, out var source))
                throw new DataFormatException(path, $"does not fit {kind}: tensor '{name}' {Shape(target)} is missing from the file ({Describe(theirs)})");
            if (source.shape.SequenceEqual(target.shape))
            {
                plan.Add((target, () => source));
                continue;
            }
            if (head is not null && IsHead(name, head) && source.ndim == target.ndim && source.shape[1..].SequenceEqual(target.shape[1..]))
            {
                if (!newHead)
                    messages.Add(string.Create(CultureInfo.InvariantCulture,
                        $"new head: the weights classify {source.shape[0]} classes, the data has {target.shape[0]}: '{head}' starts from random weights (fastai's cnn_learner cut)"));
                newHead = true;
                continue;
            }
            if (name == firstConv && source.ndim == 4 && target.ndim == 4 && source.shape[1] == 3 && target.shape[1] == 1
                && source.shape[0] == target.shape[0] && source.shape[2..].SequenceEqual(target.shape[2..]))
            {
                plan.Add((target, () => source.sum(1, keepdim: true)));
                messages.Add($"one-channel data, three-channel weights: '{name}' takes the sum of the weights over their 3 input channels (fastai's _load_pretrained_weights)");
                continue;
            }
            throw new DataFormatException(path, $"does not fit {kind}: tensor '{name}' is {Shape(source)} in the file but {Shape(target)} in the model");
        }
        var extra = theirs.Keys.Where(k => !mine.ContainsKey(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (extra is not null)
            throw new DataFormatException(path, $"does not fit {kind}: the file has tensor '{extra}' {Shape(theirs[extra])}, which the model does not have");
        using (no_grad())
        {
            foreach (var (target, source) in plan)
            {
                using var scope = NewDisposeScope();
                target.copy_(source().to(target.dtype, target.device));
            }
        }
        foreach (var t in file.Values) t.Dispose();
        return messages;
    }

    private static bool IsHead(string name, string head) => name.StartsWith(head + ".", StringComparison.Ordinal);

    private static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    private static string Describe(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).Take(3).ToArray();
        return tensors.Count == 0 ? "it has no tensor" : $"it has {tensors.Count} tensors: {string.Join(", ", names)}{(tensors.Count > 3 ? ", …" : "")}";
    }

    /// <summary>
    /// Writes <paramref name="model"/>'s state dict for PyTorch: <c>.safetensors</c> by that extension, otherwise a
    /// <c>torch.save</c>-format file (<c>torch.load(path)</c> gives the state dict). Through a temporary file and a rename.
    /// </summary>
    public static void Export(nn.Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        bool safetensors = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
        AtomicStream.Write(path, stream =>
        {
            if (safetensors) model.save_safetensors(stream, leaveOpen: true);
            else model.save_py(stream, leaveOpen: true);
        });
    }
}
