// Package experiment runs and reads sets of training runs: the sweeps of
// He et al. 2016's plain-versus-residual experiment (Figure 6), their
// summaries and figures, comparisons with the PyTorch twin, and the
// layer-response analysis of Figure 7. It sits on package train and reads
// what runs write (result.json, metrics.jsonl), so train itself draws
// nothing.
//
// # Sweeps
//
// A [Sweep] is a list of train.Config, one run each, in directories named
// after their models under one sweep directory; [Preset] returns the
// paper's ("fig6", 64,000 iterations), the four-net "fig6-quick" and the
// nine-net "fig6-grid-quick" at 1,500 iterations. [RunSweep] makes the
// runs of one [Shard] of a sweep: run i belongs to shard i mod N, so N
// cluster jobs on one sweep directory make the whole sweep between them.
// A run that has a checkpoint is resumed, and runs are deterministic, so
// shards, interruptions and retries end with the results of one
// uninterrupted process. [Gather] writes summary.json, summary.md and
// fig6.png once every run has finished (the last shard calls it).
//
// # Runs
//
// [Hooks] are the trainer hooks the command sets on every run: curves.png
// after each evaluation and checkpoint and, with Config.Analyze, the
// Figure 7 analysis ([Analyze]) at the end.
//
// # Comparisons
//
// [CompareSweeps] puts two sides' finished sweeps of the same models side by
// side (usually this trainer's and the PyTorch twin's, several seeds each)
// with the spread over seeds and the early-training summary.
package experiment
