// SPDX-License-Identifier: GPL-3.0-or-later
//
// Flamenco custom job type: a DUSt3R reconstruction as N shard tasks and one align task (docs/FARM.md).
// Put this file in the Flamenco Manager's scripts/ folder and restart the Manager.
//
// NOT RUN HERE: written from Flamenco's documentation of custom job types (JOB_TYPE + compileJob, author.Task,
// author.Command("exec", {exe, args}), task.addDependency); no Flamenco Manager was available to test it.
//
// Workers need a Python with PyTorch whose PYTHONPATH includes the DUSt3R add-on's folder (python -m core),
// and every path below must be the same on every Worker (a shared drive).

const JOB_TYPE = {
    label: "DUSt3R Reconstruction",
    description: "Pairs of photos in N shard tasks, then one task that aligns them into RESULT.npz",
    settings: [
        { key: "python", type: "string", default: "python", required: true,
          description: "Python command on the Workers (with PyTorch; the add-on folder on PYTHONPATH)" },
        { key: "checkpoint", type: "string", subtype: "file_path", required: true,
          description: "DUSt3R checkpoint (.pth, or a Hugging Face folder)" },
        { key: "images", type: "string", required: true,
          description: "The photos, in view order, one absolute path per line (or separated by ';')" },
        { key: "graph", type: "string", default: "auto", required: true,
          description: "Scene graph: auto, complete, swin-K, retrieval-K-M, ..." },
        { key: "shards", type: "int32", default: 8, required: true,
          description: "Number of shard tasks (the pairs are split evenly between them)" },
        { key: "pairs_dir", type: "string", subtype: "dir_path", required: true,
          description: "Shared folder for the pair files" },
        { key: "result", type: "string", subtype: "file_path", required: true,
          description: "The RESULT.npz to write" },
        { key: "extra_args", type: "string", default: "",
          description: "More options for 'reconstruct', separated by spaces (e.g. --refine --shared-focal)" },
    ],
};

function compileJob(job) {
    const settings = job.settings;
    const images = settings.images.split(/[\n;]+/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (images.length === 0) {
        throw "no photos given in 'images'";
    }
    const shards = Math.max(1, settings.shards);
    const common = ["-m", "core"];
    const network = ["--checkpoint", settings.checkpoint, "--graph", settings.graph, "--images"].concat(images);

    const shardTasks = [];
    for (let k = 1; k <= shards; k++) {
        const task = author.Task(`pairs ${k}/${shards}`, "misc");
        task.addCommand(author.Command("exec", {
            exe: settings.python,
            args: common.concat(["infer"], network, ["--shard", `${k}/${shards}`, "--out", settings.pairs_dir]),
        }));
        job.addTask(task);
        shardTasks.push(task);
    }

    const extra = settings.extra_args.split(/\s+/).filter((s) => s.length > 0);
    const align = author.Task("align", "misc");
    align.addCommand(author.Command("exec", {
        exe: settings.python,
        args: common.concat(["reconstruct"], network,
                            ["--pairs", settings.pairs_dir, "--out", settings.result], extra),
    }));
    for (const task of shardTasks) {
        align.addDependency(task);
    }
    job.addTask(align);
}
