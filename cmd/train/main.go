// Command train trains the zoo's CIFAR-10 ResNets with the recipe of He et
// al. 2016, runs the paper's plain-versus-residual sweep, and inspects models.
//
//	go run ./cmd/train -model resnet20                  # the paper's recipe, into runs/resnet20-<time>
//	go run ./cmd/train -model resnet20 -iters 200 -out runs/short
//	go run ./cmd/train -resume runs/short -iters 400    # continue (or extend) a run
//	go run ./cmd/train -sweep fig6-quick                # plain/ResNet 20 and 56, about an hour at PyTorch speed
//	go run ./cmd/train -sweep fig6                      # the paper's Figure 6 grid
//	go run ./cmd/train -model resnet56 -summary
//	go run ./cmd/train -model resnet20 -dot resnet20.dot
//
// Every hyper-parameter is a flag whose default is the paper's value. A run
// directory holds config.json, metrics.jsonl, checkpoint.safetensors,
// curves.png and, at the end, result.json. SIGINT or SIGTERM finishes the
// current step, writes a checkpoint and exits with status 0; rerun with
// -resume DIR to continue. A second signal kills the process at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/experiment"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/predict"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
	"golang.org/x/term"
)

// usageError is a bad flag or value: reported with the usage text.
type usageError struct{ error }

// interrupted is a run or sweep stopped by a signal, with a checkpoint.
type interrupted struct {
	err error
	dir string
}

func (e interrupted) Error() string {
	return e.err.Error() + "; continue with: train -resume " + e.dir
}

func (e interrupted) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process
	}()
	terminal := term.IsTerminal(int(os.Stdout.Fd()))
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, terminal)
	stop()
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintln(os.Stderr, "train:", err)
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		if _, ok := err.(usageError); ok {
			fmt.Fprintln(os.Stderr, "run 'train -h' for the flags")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// flags are the command's flags, bound to a Config.
type flags struct {
	fs             *flag.FlagSet
	cfg            train.Config
	summary        bool
	dot, data, out string
	resume, sweep  string
	milestones     string
	epochs         int
	weights        string
	compare        string
	compareNames   string
	models         string
	eval, predict  bool
	json, strict   bool
	maxPixels      int
}

func newFlags(stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet("train", flag.ContinueOnError), cfg: train.Paper("resnet20")}
	fs, c := f.fs, &f.cfg
	fs.SetOutput(stderr)
	fs.StringVar(&c.Model, "model", c.Model, "model `name`: "+strings.Join(models.Names(), ", "))
	fs.BoolVar(&f.summary, "summary", false, "print the model's layers, parameter count and MACs, then exit")
	fs.StringVar(&f.dot, "dot", "", "write the model's forward graph in Graphviz DOT to `FILE`, then exit")
	fs.StringVar(&f.data, "data", "", "CIFAR-10 archive or extracted directory (default: $CIFAR10_DATA, else the cache directory, downloading when missing)")
	fs.StringVar(&f.out, "out", "", "run (or sweep) `directory` to create (default runs/<model>-<time> or runs/<sweep>-<time>)")
	fs.StringVar(&f.resume, "resume", "", "continue the run or sweep in `DIR` (its config.json / sweep.json hold the settings)")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed: initialization, shuffling, augmentation")
	fs.IntVar(&c.Iters, "iters", c.Iters, "training iterations")
	fs.IntVar(&f.epochs, "epochs", 0, "train for `N` epochs instead of -iters (milestones at 50% and 75%)")
	fs.IntVar(&c.BatchSize, "batch", c.BatchSize, "batch size")
	fs.Float64Var(&c.LR, "lr", c.LR, "learning rate")
	fs.Float64Var(&c.Momentum, "momentum", c.Momentum, "SGD momentum")
	fs.Float64Var(&c.WeightDecay, "wd", c.WeightDecay, "weight decay, PyTorch style, on every learnable (BN and biases included)")
	fs.StringVar(&f.milestones, "milestones", "32000,48000", "comma-separated `iterations` where the step schedule multiplies the LR by -gamma (default 50% and 75% of -iters when -iters is given)")
	fs.Float64Var(&c.Gamma, "gamma", c.Gamma, "step schedule factor")
	fs.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: step or cosine")
	fs.StringVar(&c.Warmup, "warmup", c.Warmup, "warm-up at -warmup-lr until the training error < -warmup-err: auto (resnet110/plain110 only), on or off")
	fs.Float64Var(&c.WarmupLR, "warmup-lr", c.WarmupLR, "warm-up learning rate")
	fs.Float64Var(&c.WarmupErr, "warmup-err", c.WarmupErr, "training error (0..1) that ends the warm-up")
	fs.TextVar(&c.Normalization, "norm", c.Normalization, "input normalization: per-pixel-mean (paper) or per-channel")
	fs.IntVar(&c.TrainLimit, "train-limit", 0, "train on the first `N` training images (0: all)")
	fs.IntVar(&c.EvalLimit, "eval-limit", 0, "evaluate on the first `N` test (or validation) images (0: all)")
	fs.BoolVar(&c.Val, "val", false, "train on 45k images and evaluate on the held-out 5k (the paper's split) instead of the test set")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "iterations between evaluations (0: only at the end)")
	fs.IntVar(&c.EvalBatch, "eval-batch", c.EvalBatch, "batch size of the inference graph")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "iterations between metrics points")
	fs.IntVar(&c.CkptEvery, "ckpt-every", c.CkptEvery, "iterations between checkpoints (0: only at the end)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "goroutines preparing batches")
	fs.StringVar(&f.sweep, "sweep", "", "run a sweep `PRESET`: "+strings.Join(experiment.Presets(), ", "))
	fs.StringVar(&f.models, "models", "", "with -sweep: run only these of the preset's `models` (comma-separated), in the preset's order")
	fs.BoolVar(&c.ZeroInitResidual, "zero-init-residual", false, "start every residual block as the identity (last BN gamma 0)")
	fs.StringVar(&c.InitFrom, "init-from", "", "start training from the weights in `FILE` (safetensors, torchvision names; a classifier of another shape is re-initialized)")
	fs.StringVar(&f.weights, "weights", "", "weights `FILE` for -eval and -predict (safetensors, torchvision names)")
	fs.BoolVar(&f.eval, "eval", false, "report the test loss and error of -weights, then exit")
	fs.BoolVar(&f.predict, "predict", false, "classify the PNG or JPEG files named after the flags with -weights: top-5 classes")
	fs.StringVar(&f.compare, "compare", "", "`OURS,THEIRS`: put finished sweeps of the same models side by side, this trainer's and the PyTorch twin's (scripts/twin); each side a directory or a glob of one directory per seed (results/x/ours/seed*); writes comparison.png, .md and .json into -out (default OURS when it is one directory), then exit")
	fs.StringVar(&f.compareNames, "compare-names", "ours,PyTorch", "with -compare: the two sides' `names` in the table and figure, e.g. zero-init,default for two variants of ours")
	fs.IntVar(&f.maxPixels, "max-pixels", predict.DefaultMaxPixels, "with -predict: refuse images of more `pixels` (width x height), read from the header before decoding")
	fs.BoolVar(&f.json, "json", false, "with -predict: one JSON object per image")
	fs.BoolVar(&f.strict, "strict", true, "with -weights or -init-from: fail on any missing, extra or misshapen tensor (false: load what matches and report the rest)")
	fs.BoolVar(&c.Analyze, "analyze", false, "log per-stage gradient norms; at the end, the std of every 3x3 layer's response (Figure 7)")
	return f
}

// set returns the names of the flags given on the command line.
func (f *flags) set() map[string]bool {
	s := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { s[fl.Name] = true })
	return s
}

// apply copies the explicitly set training flags onto c.
func (f *flags) apply(c *train.Config, set map[string]bool) {
	model := c.Model
	cf := f.cfg
	ms, _ := train.ParseMilestones(f.milestones)
	for name := range set {
		switch name {
		case "seed":
			c.Seed = cf.Seed
		case "iters":
			c.Iters = cf.Iters
			if !set["milestones"] {
				c.Milestones = train.ScaledMilestones(cf.Iters)
			}
		case "batch":
			c.BatchSize = cf.BatchSize
		case "lr":
			c.LR = cf.LR
		case "momentum":
			c.Momentum = cf.Momentum
		case "wd":
			c.WeightDecay = cf.WeightDecay
		case "milestones":
			c.Milestones = ms
		case "gamma":
			c.Gamma = cf.Gamma
		case "schedule":
			c.Schedule = cf.Schedule
		case "warmup":
			c.Warmup = cf.Warmup
		case "warmup-lr":
			c.WarmupLR = cf.WarmupLR
		case "warmup-err":
			c.WarmupErr = cf.WarmupErr
		case "norm":
			c.Normalization = cf.Normalization
		case "train-limit":
			c.TrainLimit = cf.TrainLimit
		case "eval-limit":
			c.EvalLimit = cf.EvalLimit
		case "val":
			c.Val = cf.Val
		case "eval-every":
			c.EvalEvery = cf.EvalEvery
		case "eval-batch":
			c.EvalBatch = cf.EvalBatch
		case "log-every":
			c.LogEvery = cf.LogEvery
		case "ckpt-every":
			c.CkptEvery = cf.CkptEvery
		case "workers":
			c.Workers = cf.Workers
		case "zero-init-residual":
			c.ZeroInitResidual = cf.ZeroInitResidual
		case "analyze":
			c.Analyze = cf.Analyze
		case "init-from":
			c.InitFrom = cf.InitFrom
		case "strict":
			c.InitNonStrict = !f.strict
		}
	}
	c.Model = model
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) error {
	f := newFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return usageError{err} // the flag package printed the usage
	}
	err := runParsed(ctx, f, stdout, stderr, terminal)
	if _, ok := err.(usageError); ok {
		f.fs.Usage()
	}
	return err
}

func runParsed(ctx context.Context, f *flags, stdout, stderr io.Writer, terminal bool) error {
	set := f.set()
	if f.predict {
		if f.weights == "" {
			return usageError{errors.New("-predict needs -weights FILE")}
		}
		return classify(ctx, f, set, f.fs.Args(), stdout, stderr)
	}
	if f.fs.NArg() > 0 {
		return usageError{errors.Errorf("unexpected arguments %q", f.fs.Args())}
	}
	if set["summary"] || set["dot"] {
		return inspect(f, stdout)
	}
	if f.compare != "" {
		return compare(f.compare, f.compareNames, f.out, stdout)
	}
	if set["compare-names"] {
		return usageError{errors.New("-compare-names goes with -compare")}
	}
	if set["models"] && f.sweep == "" {
		return usageError{errors.New("-models goes with -sweep (a single run takes -model)")}
	}
	if f.eval {
		if f.weights == "" {
			return usageError{errors.New("-eval needs -weights FILE")}
		}
		return evaluate(ctx, f, set, stdout, stderr)
	}
	if set["weights"] || set["json"] {
		return usageError{errors.New("-weights and -json go with -eval or -predict")}
	}
	ms, err := train.ParseMilestones(f.milestones)
	if err != nil {
		return usageError{err}
	}
	f.cfg.Milestones = ms
	if set["iters"] && set["epochs"] {
		return usageError{errors.New("-iters and -epochs: give one of them")}
	}
	if f.epochs < 0 {
		return usageError{errors.Errorf("-epochs %d: want a positive number of epochs", f.epochs)}
	}
	out := train.Output{W: stdout, Terminal: terminal}

	if f.resume != "" {
		for name := range set {
			switch name {
			case "resume", "data", "iters":
			default:
				return usageError{errors.Errorf("-%s cannot be combined with -resume: the settings come from %s (only -data and -iters may be given)", name, f.resume)}
			}
		}
		ds, err := loadData(ctx, &f.data, stderr)
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(f.resume, experiment.SweepFile)); err == nil {
			if set["iters"] {
				return usageError{errors.New("-iters cannot be changed when resuming a sweep")}
			}
			return runSweep(ctx, nil, ds, f.resume, true, out, stdout)
		}
		var change func(*train.Config)
		if set["iters"] {
			change = func(c *train.Config) { c.Iters = f.cfg.Iters }
		}
		tr, err := train.Resume(f.resume, ds, out, change)
		if err != nil {
			return err
		}
		defer tr.Close()
		tr.Hooks = experiment.Hooks()
		return finishRun(ctx, tr, stdout)
	}

	if f.sweep != "" {
		if set["model"] {
			return usageError{errors.New("-model and -sweep: a sweep chooses its models")}
		}
		s, err := experiment.Preset(f.sweep)
		if err != nil {
			return usageError{err}
		}
		if set["models"] {
			if err := s.Keep(strings.Split(f.models, ",")); err != nil {
				return usageError{err}
			}
		}
		for i := range s.Runs {
			f.apply(&s.Runs[i], set)
			if err := s.Runs[i].Validate(); err != nil {
				return usageError{err}
			}
		}
		ds, err := loadData(ctx, &f.data, stderr)
		if err != nil {
			return err
		}
		for i := range s.Runs {
			s.Runs[i].Data = f.data
		}
		if set["epochs"] {
			for i := range s.Runs {
				if err := epochsToIters(&s.Runs[i], f.epochs, ds, set); err != nil {
					return err
				}
			}
		}
		dir := f.out
		if dir == "" {
			dir = filepath.Join("runs", f.sweep+"-"+time.Now().Format("20060102-150405"))
		}
		return runSweep(ctx, s, ds, dir, false, out, stdout)
	}

	cfg := train.Paper(f.cfg.Model)
	f.apply(&cfg, set)
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if m, err := models.New(cfg.Model, models.Options{}); err != nil || !m.CIFAR() {
		return usageError{errors.Errorf("-model %s: the trainer trains the CIFAR-10 models (resnet20..1202, plain20..110)", cfg.Model)}
	}
	ds, err := loadData(ctx, &f.data, stderr)
	if err != nil {
		return err
	}
	if set["epochs"] {
		if err := epochsToIters(&cfg, f.epochs, ds, set); err != nil {
			return err
		}
	}
	cfg.Data = f.data
	dir := f.out
	if dir == "" {
		dir = filepath.Join("runs", cfg.Model+"-"+time.Now().Format("20060102-150405"))
	}
	tr, err := train.New(cfg, ds, dir, out)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Hooks = experiment.Hooks()
	fmt.Fprintf(stdout, "training %s (%d parameters) for %d iterations into %s\n", cfg.Model, tr.Model().NumParams(), cfg.Iters, dir)
	return finishRun(ctx, tr, stdout)
}

// epochsToIters converts -epochs to iterations of the run's training set.
func epochsToIters(c *train.Config, epochs int, ds *cifar10.Dataset, set map[string]bool) error {
	tr, _, _, err := train.PrepareData(ds, *c)
	if err != nil {
		return err
	}
	c.Iters = epochs * (tr.Len() / c.BatchSize)
	if !set["milestones"] {
		c.Milestones = train.ScaledMilestones(c.Iters)
	}
	return nil
}

func finishRun(ctx context.Context, tr *train.Trainer, stdout io.Writer) error {
	r, err := tr.Run(ctx)
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return interrupted{err, tr.Dir()}
		}
		return err
	}
	fmt.Fprintf(stdout, "%s: %d iterations, final train error %.2f%%, %s error %.2f%% (best %.2f%%), %s; results in %s\n",
		r.Model, r.Iters, 100*r.FinalTrainErr, r.EvalSet, 100*r.FinalTestErr, 100*r.BestTestErr, time.Duration(r.WallS*float64(time.Second)).Round(time.Second), tr.Dir())
	return nil
}

func runSweep(ctx context.Context, s *experiment.Sweep, ds *cifar10.Dataset, dir string, resume bool, out train.Output, stdout io.Writer) error {
	rs, err := experiment.RunSweep(ctx, s, ds, dir, experiment.Shard{}, out)
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return interrupted{err, dir}
		}
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(stdout, "%-10s %8d params  train err %6.2f%%  %s err %6.2f%% (best %6.2f%%)\n", r.Model, r.Params, 100*r.FinalTrainErr, r.EvalSet, 100*r.FinalTestErr, 100*r.BestTestErr)
	}
	fmt.Fprintf(stdout, "sweep done: %s\n", filepath.Join(dir, experiment.SummaryMDFile))
	return nil
}

// loadData finds (downloading when missing) and loads CIFAR-10; it sets
// *path to where the data was found.
func loadData(ctx context.Context, path *string, stderr io.Writer) (*cifar10.Dataset, error) {
	p, err := cifar10.Ensure(ctx, *path, &cifar10.Downloader{Progress: stderr})
	if err != nil {
		return nil, errors.Wrap(err, "-data")
	}
	ds, err := cifar10.Load(p)
	if abs, aerr := filepath.Abs(p); aerr == nil {
		p = abs
	}
	*path = p
	return ds, errors.Wrap(err, "-data")
}

// inspect is -summary and -dot.
func inspect(f *flags, stdout io.Writer) error {
	m, err := models.New(f.cfg.Model, models.Options{})
	if err != nil {
		return usageError{errors.Wrap(err, "-model")}
	}
	if f.dot != "" {
		b, err := m.Dot()
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.dot, b, 0o644); err != nil {
			return errors.Wrap(err, "-dot")
		}
	}
	if f.summary {
		return m.Summary(stdout)
	}
	return nil
}

// compare runs -compare OURS,THEIRS -compare-names FIRST,SECOND (see the flags).
func compare(arg, namesArg, out string, stdout io.Writer) error {
	sides := strings.Split(arg, ",")
	if len(sides) != 2 {
		return usageError{errors.Errorf("-compare %q: want two sweep directories or globs, OURS,THEIRS", arg)}
	}
	var dirs [2][]string
	for i, pattern := range sides {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			return usageError{errors.Errorf("-compare %q: %s matches no directory", arg, pattern)}
		}
		dirs[i] = m
	}
	if out == "" {
		if len(dirs[0]) != 1 {
			return usageError{errors.Errorf("-compare %q: %d sweeps of ours; say where to write with -out", arg, len(dirs[0]))}
		}
		out = dirs[0][0]
	}
	n := strings.Split(namesArg, ",")
	if len(n) != 2 || n[0] == "" || n[1] == "" {
		return usageError{errors.Errorf("-compare-names %q: want two names, FIRST,SECOND", namesArg)}
	}
	names := [2]string{n[0], n[1]}
	cs, err := experiment.CompareSweeps(out, dirs[0], dirs[1], names)
	if err != nil {
		return err
	}
	for _, c := range cs {
		fmt.Fprintf(stdout, "%s: train err %.2f%% (%s, %d seeds) vs %.2f%% (%s, %d); test err %.2f%% vs %.2f%%\n", c.Model,
			100*c.OursTrain.Mean, names[0], c.OursTrain.Seeds, 100*c.TheirsTrain.Mean, names[1], c.TheirsTrain.Seeds, 100*c.OursTest.Mean, 100*c.TheirsTest.Mean)
	}
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", filepath.Join(out, experiment.CompareFigFile), filepath.Join(out, experiment.CompareMDFile), filepath.Join(out, experiment.CompareJSONFile))
	return nil
}
