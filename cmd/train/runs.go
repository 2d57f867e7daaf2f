package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/experiment"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

const downloadUsage = "download the official archive to -data when that .tar.gz file does not exist"

var runCmd = &command{
	name:  "run",
	short: "train one CIFAR-10 model (the default command)",
	long: `Run trains one CIFAR-10 model with the recipe of He et al. 2016 into a new run
directory: config.json, metrics.jsonl, checkpoint.safetensors, curves.png and,
at the end, result.json and weights.safetensors. Every setting is a flag
whose default is the paper's value. CIFAR-10 is read from -data, else
$CIFAR10_DATA, else the cache directory, where the official archive is
downloaded when missing. SIGINT or SIGTERM ends the current step, writes a
checkpoint and exits with status 130; 'train resume DIR' continues.
'train -model M' without a command is 'train run -model M'.`,
	example: `train run -model resnet56 -iters 4000 -eval-every 500
train -model resnet20 -iters 782 -out runs/two-epochs -data cifar-10-binary.tar.gz
train run -model resnet20 -epochs 10 -schedule cosine
train run -model resnet20 -init-from other.safetensors`,
	setup: setupRun,
}

func setupRun(fs *flag.FlagSet) func([]string) (action, error) {
	flags := train.Paper("resnet20")
	bindConfig(fs, &flags, true, configFlags)
	out := fs.String("out", "", "run `directory` to create (default runs/<model>-<time>)")
	epochs := fs.Int("epochs", 0, "train for `N` epochs of the training set instead of -iters")
	download := fs.Bool("download", false, downloadUsage)
	return func([]string) (action, error) {
		if !slices.Contains(models.CIFARNames(), flags.Model) {
			return nil, errors.Errorf("-model %s: want a CIFAR-10 model: %s", flags.Model, strings.Join(models.CIFARNames(), ", "))
		}
		set := given(fs)
		cfg := train.Paper(flags.Model)
		copyConfig(&cfg, &flags, set)
		if err := checkNewRun(&cfg, set, *epochs); err != nil {
			return nil, err
		}
		return func(ctx context.Context, e env) error {
			ds, path, err := loadData(ctx, cfg.Data, *download, e.stderr)
			if err != nil {
				return err
			}
			cfg.Data = path
			if set["epochs"] {
				if err := epochsToIters(&cfg, *epochs, ds, set); err != nil {
					return err
				}
			}
			dir := *out
			if dir == "" {
				dir = filepath.Join("runs", cfg.Model+"-"+time.Now().Format("20060102-150405"))
			}
			tr, err := train.New(cfg, ds, dir, e.output())
			if err != nil {
				return err
			}
			defer tr.Close()
			tr.Hooks = experiment.Hooks()
			fmt.Fprintf(e.stdout, "training %s (%d parameters) for %d iterations into %s\n", cfg.Model, tr.Model().NumParams(), cfg.Iters, dir)
			return finishRun(ctx, tr, e.stdout)
		}, nil
	}
}

// checkNewRun completes and checks the Config of a new run: the paper's
// milestones moved to a shorter -iters, -epochs against -iters, Validate.
func checkNewRun(cfg *train.Config, set map[string]bool, epochs int) error {
	if set["iters"] && !set["milestones"] {
		cfg.Milestones = train.ScaledMilestones(cfg.Iters)
	}
	if set["epochs"] {
		if set["iters"] {
			return errors.New("-iters and -epochs: give one of them")
		}
		if epochs <= 0 {
			return errors.Errorf("-epochs %d: want > 0", epochs)
		}
	}
	return cfg.Validate()
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

var resumeCmd = &command{
	name: "resume", args: "DIR", minArgs: 1, maxArgs: 1,
	short: "continue a run or a sweep from its last checkpoint",
	long: `Resume continues the run in DIR from its checkpoint, exactly as an uninterrupted
run would have gone on, with the data path and every setting recorded in
DIR/config.json. A flag given overrides its setting and is recorded: a larger
-iters extends a finished run (its milestones stay unless -milestones is
given), -data names the data's new place, and intervals and learning rates
may change. The settings the checkpoint depends on (-model, -seed, -batch,
-norm, -val, -train-limit, -zero-init-residual, -init-from) cannot.
A sweep directory (one with sweep.json) resumes every unfinished run of the
sweep, with the data path recorded in sweep.json or -data.`,
	example: `train resume runs/resnet56-20261127-081500
train resume runs/short -iters 8000 -eval-every 500
train resume runs/fig6-quick-20261127-090000 -data /mnt/cifar-10-binary.tar.gz`,
	setup: setupResume,
}

func setupResume(fs *flag.FlagSet) func([]string) (action, error) {
	var flags train.Config
	bindConfig(fs, &flags, false, configFlags)
	download := fs.Bool("download", false, downloadUsage)
	return func(args []string) (action, error) {
		dir, set := args[0], given(fs)
		return func(ctx context.Context, e env) error {
			if _, err := os.Stat(filepath.Join(dir, experiment.SweepFile)); err == nil {
				return resumeSweep(ctx, e, dir, flags.Data, set, *download)
			}
			// Refuse at once what Resume would refuse after loading the data.
			if err := train.Resumable(dir); err != nil {
				return err
			}
			info, err := train.ReadRunInfo(dir)
			if err != nil {
				return err
			}
			data := info.Config.Data
			if set["data"] {
				data = flags.Data
			} else if err := recorded(data, filepath.Join(dir, train.ConfigFile)); err != nil {
				return err
			}
			ds, path, err := loadData(ctx, data, *download, e.stderr)
			if err != nil {
				return err
			}
			tr, err := train.Resume(dir, ds, e.output(), func(c *train.Config) {
				copyConfig(c, &flags, set)
				c.Data = path
			})
			if err != nil {
				return err
			}
			defer tr.Close()
			tr.Hooks = experiment.Hooks()
			c := tr.Config()
			fmt.Fprintf(e.stdout, "resuming %s at iteration %d of %d in %s\n", c.Model, tr.Iteration(), c.Iters, dir)
			return finishRun(ctx, tr, e.stdout)
		}, nil
	}
}

// recorded checks that the data path a run or sweep recorded in file still
// exists ("" stands for the default place).
func recorded(data, file string) error {
	if data == "" {
		return nil
	}
	if _, err := os.Stat(data); err != nil {
		return errors.Errorf("%s: the data recorded, %s, is gone; give its new place with -data", file, data)
	}
	return nil
}

// resumeSweep resumes the sweep in dir, on the data recorded in its
// sweep.json or on data when -data was given.
func resumeSweep(ctx context.Context, e env, dir, data string, set map[string]bool, download bool) error {
	for name := range set {
		if name != "data" && name != "download" {
			return usagef("resume", "-%s: a resumed sweep takes only -data and -download (its runs keep their settings)", name)
		}
	}
	if !set["data"] {
		file := filepath.Join(dir, experiment.SweepFile)
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var s experiment.Sweep
		if err := json.Unmarshal(b, &s); err != nil {
			return errors.Wrap(err, file)
		}
		if len(s.Runs) > 0 {
			data = s.Runs[0].Data
		}
		if err := recorded(data, file); err != nil {
			return err
		}
	}
	ds, _, err := loadData(ctx, data, download, e.stderr)
	if err != nil {
		return err
	}
	return runSweep(ctx, nil, ds, dir, experiment.Shard{}, e)
}

var sweepCmd = &command{
	name: "sweep", args: "PRESET", minArgs: 1, maxArgs: 1,
	short: "make a preset's runs one after another, then the paper's Figure 6",
	long: `Sweep makes the runs of PRESET (` + strings.Join(experiment.Presets(), ", ") + `) one after another, each in its
own directory under the sweep directory, and ends with fig6.png, summary.md and
summary.json (and fig7.png with -analyze). fig6 is the paper's Figure 6 grid
and schedule; fig6-quick is plain-20, plain-56, ResNet-20 and ResNet-56 for
1,500 iterations, about an hour at PyTorch's speed on two cores;
fig6-grid-quick is all nine nets of fig6 at that schedule. The training
flags override the preset's settings in every run. 'train resume DIR'
continues an interrupted sweep.

On a cluster, every job runs the same command with its own -shard I/N
(0 <= I < N, as JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID count) and one
-out: the job makes runs I, I+N, I+2N... of the preset, resumes a run that
already has a checkpoint (a preempted or retried job continues), and the job
that finishes last gathers the sweep (see deploy/README.md).`,
	example: `train sweep fig6-quick
train sweep fig6-quick -models resnet20,resnet56 -zero-init-residual -out runs/zero-init
train sweep fig6-quick -analyze -seed 2 -data cifar-10-binary.tar.gz
train sweep fig6 -shard 3/9 -data /sweeps/cifar-10-binary.tar.gz -out /sweeps/fig6`,
	setup: setupSweep,
}

func setupSweep(fs *flag.FlagSet) func([]string) (action, error) {
	var flags train.Config
	bindConfig(fs, &flags, false, omit("model"))
	out := fs.String("out", "", "sweep `directory` to create (default runs/<preset>-<time>)")
	only := fs.String("models", "", "run only these of the preset's `models` (comma-separated), in the preset's order")
	epochs := fs.Int("epochs", 0, "train each run for `N` epochs of its training set instead of -iters")
	download := fs.Bool("download", false, downloadUsage)
	shardFlag := fs.String("shard", "", "make only shard `I/N` of the runs: runs I, I+N, I+2N... (0 <= I < N); needs -out")
	return func(args []string) (action, error) {
		set := given(fs)
		var shard experiment.Shard
		if set["shard"] {
			var err error
			if shard, err = experiment.ParseShard(*shardFlag); err != nil {
				return nil, errors.Errorf("-shard %s: want I/N with 0 <= I < N, e.g. 0/9", *shardFlag)
			}
			if *out == "" {
				return nil, errors.New("-shard needs -out: every shard writes into the same sweep directory")
			}
		}
		s, err := experiment.Preset(args[0])
		if err != nil {
			return nil, errors.Errorf("unknown preset %q: want one of %s", args[0], strings.Join(experiment.Presets(), ", "))
		}
		if set["models"] {
			if err := s.Keep(strings.Split(*only, ",")); err != nil {
				return nil, errors.WithMessage(err, "-models")
			}
		}
		for i := range s.Runs {
			copyConfig(&s.Runs[i], &flags, set)
			if err := checkNewRun(&s.Runs[i], set, *epochs); err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context, e env) error {
			ds, path, err := loadData(ctx, flags.Data, *download, e.stderr)
			if err != nil {
				return err
			}
			for i := range s.Runs {
				s.Runs[i].Data = path
				if set["epochs"] {
					if err := epochsToIters(&s.Runs[i], *epochs, ds, set); err != nil {
						return err
					}
				}
			}
			dir := *out
			if dir == "" {
				dir = filepath.Join("runs", args[0]+"-"+time.Now().Format("20060102-150405"))
			}
			return runSweep(ctx, s, ds, dir, shard, e)
		}, nil
	}
}

// finishRun runs tr to its end and reports the result.
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

// runSweep runs (or resumes) shard of the sweep s in dir and reports its
// results.
func runSweep(ctx context.Context, s *experiment.Sweep, ds *cifar10.Dataset, dir string, shard experiment.Shard, e env) error {
	rs, err := experiment.RunSweep(ctx, s, ds, dir, shard, e.output())
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return interrupted{err, dir}
		}
		return err
	}
	printResults(e.stdout, rs)
	if _, err := os.Stat(filepath.Join(dir, experiment.SummaryMDFile)); err != nil {
		fmt.Fprintf(e.stdout, "%s done; the sweep is gathered when all its runs are (train gather %s)\n", shard, dir)
		return nil
	}
	fmt.Fprintf(e.stdout, "sweep done: %s\n", filepath.Join(dir, experiment.SummaryMDFile))
	return nil
}

func printResults(w io.Writer, rs []train.Result) {
	for _, r := range rs {
		fmt.Fprintf(w, "%-10s %8d params  train err %6.2f%%  %s err %6.2f%% (best %6.2f%%)\n", r.Model, r.Params, 100*r.FinalTrainErr, r.EvalSet, 100*r.FinalTestErr, 100*r.BestTestErr)
	}
}

var gatherCmd = &command{
	name: "gather", args: "DIR", minArgs: 1, maxArgs: 1,
	short: "summarize a sweep whose runs were made by several jobs",
	long: `Gather collects the finished runs of the sweep in DIR into summary.json,
summary.md and fig6.png (and fig7.png for runs with -analyze). The last shard
of a sweep does this by itself; gather redoes it, and fails, naming them,
while runs are unfinished.`,
	example: `train gather /sweeps/fig6`,
	setup: func(fs *flag.FlagSet) func([]string) (action, error) {
		return func(args []string) (action, error) {
			return func(_ context.Context, e env) error {
				rs, err := experiment.Gather(args[0])
				if err != nil {
					return err
				}
				printResults(e.stdout, rs)
				fmt.Fprintf(e.stdout, "sweep gathered: %s\n", filepath.Join(args[0], experiment.SummaryMDFile))
				return nil
			}, nil
		}
	},
}

var dataCmd = &command{
	name: "data", short: "fetch (when missing) and check CIFAR-10",
	long: `Data finds CIFAR-10 as the training commands do (-data, else $CIFAR10_DATA,
else the cache directory), downloads it when missing (to a path given, only
with -download), checks that it loads, and prints its path. Processes that
download to one path at once take turns: the first downloads, the others
find the archive there. A cluster job runs it once before training.`,
	example: `train data
train data -download -data /sweeps/cifar10/cifar-10-binary.tar.gz`,
	setup: func(fs *flag.FlagSet) func([]string) (action, error) {
		flags := train.Paper("")
		bindConfig(fs, &flags, true, pick("data"))
		download := fs.Bool("download", false, downloadUsage)
		return func([]string) (action, error) {
			return func(ctx context.Context, e env) error {
				ds, path, err := loadData(ctx, flags.Data, *download, e.stderr)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: %d training and %d test images\n", path, ds.Train.Len(), ds.Test.Len())
				return nil
			}, nil
		}
	},
}

// loadData finds CIFAR-10 at path, else at $CIFAR10_DATA, else in the
// cache directory (downloading it there when missing), loads it, and
// returns the absolute path where it was found. A path given that does not
// exist is an error unless download is set.
func loadData(ctx context.Context, path string, download bool, stderr io.Writer) (*cifar10.Dataset, string, error) {
	p, err := cifar10.Ensure(ctx, path, &cifar10.Downloader{Progress: stderr, DownloadExplicit: download})
	if err != nil {
		return nil, "", errors.WithMessage(err, "-data")
	}
	ds, err := cifar10.Load(p)
	if err != nil {
		return nil, "", errors.WithMessage(err, "-data")
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return ds, p, nil
}

var compareCmd = &command{
	name: "compare", args: "OURS THEIRS", minArgs: 2, maxArgs: 2,
	short: "put two sides' finished sweeps of the same models side by side",
	long: `Compare puts finished sweeps of the same models side by side: usually this
trainer's (OURS) and the PyTorch twin's (THEIRS, scripts/twin), or two variants
of ours. Each side is a sweep directory or a glob of one directory per seed
(quote it). It writes comparison.png, comparison.md and comparison.json into
-out (default OURS when that is one directory).`,
	example: `train compare runs/fig6-quick runs/twin-fig6-quick
train compare 'results/fig6-quick/ours/seed*' 'results/fig6-quick/pytorch/seed*' -out results/fig6-quick
train compare runs/zero-init runs/default -names zero-init,default`,
	setup: setupCompare,
}

func setupCompare(fs *flag.FlagSet) func([]string) (action, error) {
	out := fs.String("out", "", "`directory` to write the comparison to (default OURS when it is one directory)")
	namesFlag := fs.String("names", "ours,PyTorch", "the two sides' `names` in the table and figure, FIRST,SECOND")
	return func(args []string) (action, error) {
		n := strings.Split(*namesFlag, ",")
		if len(n) != 2 || n[0] == "" || n[1] == "" {
			return nil, errors.Errorf("-names %q: want two names, FIRST,SECOND", *namesFlag)
		}
		names := [2]string{n[0], n[1]}
		return func(_ context.Context, e env) error {
			var dirs [2][]string
			for i, pattern := range args {
				m, err := filepath.Glob(pattern)
				if err != nil || len(m) == 0 {
					return errors.Errorf("%s matches no directory", pattern)
				}
				dirs[i] = m
			}
			dir := *out
			if dir == "" {
				if len(dirs[0]) != 1 {
					return usagef("compare", "%s is %d sweeps; say where to write with -out", args[0], len(dirs[0]))
				}
				dir = dirs[0][0]
			}
			cs, err := experiment.CompareSweeps(dir, dirs[0], dirs[1], names)
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(e.stdout, "%s: train err %.2f%% (%s, %d seeds) vs %.2f%% (%s, %d); test err %.2f%% vs %.2f%%\n", c.Model,
					100*c.OursTrain.Mean, names[0], c.OursTrain.Seeds, 100*c.TheirsTrain.Mean, names[1], c.TheirsTrain.Seeds, 100*c.OursTest.Mean, 100*c.TheirsTest.Mean)
			}
			fmt.Fprintf(e.stdout, "wrote %s, %s and %s\n", filepath.Join(dir, experiment.CompareFigFile), filepath.Join(dir, experiment.CompareMDFile), filepath.Join(dir, experiment.CompareJSONFile))
			return nil
		}, nil
	}
}
