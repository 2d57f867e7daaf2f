// Package train trains the zoo's CIFAR-10 models with the recipe of He et
// al. 2016 (Deep Residual Learning for Image Recognition, section 4.2): the
// step, the optimizer, the schedule, the run directory and its checkpoints.
// Sweeps, summaries, figures and analyses of runs are package experiment's.
//
// # Recipe
//
// [Paper] returns the paper's settings: SGD with momentum 0.9 and weight
// decay 1e-4, batch 128, learning rate 0.1 divided by 10 at 32k and 48k
// iterations, 64k iterations, per-pixel mean subtraction, 4-pixel padding
// with random 32x32 crops and horizontal flips, and for the 110-layer nets a
// warm-up at 0.01 until the training error is below 80%. [SGD] is PyTorch's
// torch.optim.SGD (d = g + wd*w; b = mu*b + d, b = d on the first step;
// w -= lr*b). As in PyTorch's default, weight decay applies to every
// learnable, batch-norm gamma and beta and the classifier's bias included
// (the paper does not say otherwise). A cosine schedule is the alternative
// to the step schedule.
//
// # Graphs
//
// A [Trainer] builds two graphs from one model: a training graph (loss,
// gradients by G.Grad once, a TapeMachine with bound dual values) and an
// inference graph with its own batch size and no gradients. They share the
// model's tensors, so SGD updates the State's tensors in place and the
// inference graph sees them. Evaluation switches batch norm to its running
// statistics (Model.SetTraining(false)) and back. Each step copies the
// batch into the input tensor's backing slice and the one-hot targets into
// the target tensor's; gradients, which accumulate across runs, are zeroed
// after every update.
//
// # Run directory
//
// A run directory holds config.json ([RunInfo]: every setting, the seed, Go
// and module versions), stats.json (the input normalization),
// metrics.jsonl (one [Point] per logged iteration), checkpoint.safetensors
// (from iteration 0 on) and, when finished, weights.safetensors and
// result.json ([Result]). A new run refuses an existing non-empty
// directory; [Resume] continues one, and may change the settings that do
// not fix the weights or the batch order. While a process trains in a run
// directory it holds an advisory lock on its .lock file, which dies with
// the process: a second process is refused, not interleaved. [Trainer.Hooks]
// let a caller act after each evaluation or checkpoint and at the end
// (experiment.Hooks draws curves.png and makes the Figure 7 analysis).
// [ReadSnapshot] reads a run's model at its latest checkpoint, finished or
// not, without the optimizer's state; [SaveWeights] writes weights as a
// finished run writes weights.safetensors.
//
// # Checkpoints and determinism
//
// A checkpoint holds every tensor of the model's State under torchvision's
// names (num_batches_tracked as I64), the momentum buffers as
// "optimizer.momentum.<name>", and in its metadata the iteration, the seed,
// the config, the normalization statistics, the warm-up state and the
// running metric sums. Training batches are a pure function of (seed,
// iteration) and the trainer uses no other random source, so a resumed run
// continues bit for bit as a straight run would have. Checkpoints are
// written through safetensors.WriteFile (temporary file, fsync, rename), so
// a kill at any moment leaves the previous one whole; one is written every
// Config.CkptEvery iterations, at the end, and when [Trainer.Run]'s context
// is cancelled (SIGINT/SIGTERM in cmd/train). A NaN or infinite loss stops
// the run before the update, any other non-finite metric before it is
// logged, and checkpoints refuse non-finite weights, all with [ErrDiverged],
// so the last checkpoint is always a good one.
package train
