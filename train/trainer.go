package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Files of a run directory.
const (
	ConfigFile     = "config.json"            // RunInfo: the Config, versions, creation time
	MetricsFile    = "metrics.jsonl"          // one Point per line
	CheckpointFile = "checkpoint.safetensors" // the latest checkpoint
	ResultFile     = "result.json"            // Result, written when the run finishes
	WeightsFile    = "weights.safetensors"    // the final weights with their normalization, for -eval and -predict
	StatsFile      = "stats.json"             // the normalization statistics (cifar10.Stats), for inference
	LockFile       = ".lock"                  // held by the process training in the directory
)

// ValSplitSeed fixes the 45k/5k split of Config.Val, so every run of a
// sweep holds out the same 5,000 images whatever its seed.
const ValSplitSeed = 1

// ErrInterrupted is returned by Run when its context was cancelled (SIGINT,
// SIGTERM): the current step was finished and a checkpoint written.
var ErrInterrupted = errors.New("training interrupted; checkpoint written")

// ErrDiverged is returned (wrapped, with the model, the iteration and the
// value) by Run when a loss, a metric or a weight is no longer finite. The
// last checkpoint, written before, is kept.
var ErrDiverged = errors.New("the run diverged and was stopped")

// Hooks let a caller act at a run's milestones (draw its curves, analyze
// the trained net) without the trainer knowing what for. A hook's error
// stops the run.
type Hooks struct {
	// Saved runs after each evaluation and each checkpoint, when
	// metrics.jsonl (and the checkpoint) are up to date.
	Saved func(*Trainer) error
	// Finished runs after the last iteration, before the final weights
	// and result.json are written.
	Finished func(*Trainer) error
}

// Output is where a run reports progress.
type Output struct {
	W        io.Writer // nil means no progress output
	Terminal bool      // redraw one progress line instead of printing log lines
}

// RunInfo is the content of config.json.
type RunInfo struct {
	Config   Config            `json:"config"`
	Created  string            `json:"created"`
	Go       string            `json:"go_version"`
	Module   string            `json:"module"`
	Versions map[string]string `json:"module_versions"`
	GOOS     string            `json:"goos"`
	GOARCH   string            `json:"goarch"`
	CPUs     int               `json:"cpus"`
	Stats    cifar10.Stats     `json:"-"` // in stats.json
	TrainN   int               `json:"train_images"`
	EvalN    int               `json:"eval_images"`
	EvalSet  string            `json:"eval_set"` // "test" or "val"
}

// Point is one line of metrics.jsonl. Test fields are the evaluation set's
// (the validation split with Config.Val) and null between evaluations;
// train fields are running means over the iterations since the previous point.
type Point struct {
	Iter      int                `json:"iter"`
	Epoch     float64            `json:"epoch"`
	LR        float64            `json:"lr"`
	TrainLoss *float64           `json:"train_loss"`
	TrainErr  *float64           `json:"train_err"`
	TestLoss  *float64           `json:"test_loss"`
	TestErr   *float64           `json:"test_err"`
	ImgPerS   float64            `json:"img_per_s"`
	ElapsedS  float64            `json:"elapsed_s"`
	GradNorm  map[string]float64 `json:"grad_norm,omitempty"` // per stage, with Config.Analyze
}

// Result is the outcome of a finished run, result.json.
type Result struct {
	Model         string  `json:"model"`
	Params        int     `json:"params"`
	Iters         int     `json:"iters"`
	FinalTrainErr float64 `json:"final_train_err"`
	BestTrainErr  float64 `json:"best_train_err"`
	FinalTestErr  float64 `json:"final_test_err"`
	BestTestErr   float64 `json:"best_test_err"`
	FinalTestLoss float64 `json:"final_test_loss"`
	WallS         float64 `json:"wall_s"`
	EvalSet       string  `json:"eval_set"`
}

// Trainer trains one model in one run directory, which it locks (LockFile)
// from New or Resume until Close: a second process gets an error instead
// of writing the same files.
type Trainer struct {
	// Hooks are called during Run; set them before it.
	Hooks Hooks

	cfg    Config
	dir    string
	out    Output
	model  *models.Model
	info   RunInfo
	unlock func()

	train, eval *cifar10.Set
	stats       cifar10.Stats

	step *Step             // the training graph
	inf  *models.Inference // the evaluation graph

	// Training state, all of it in the checkpoint.
	iter      int
	warmup    bool    // still warming up
	warmEMA   float64 // exponential average of the batch error, for the warm-up
	warmSeen  bool
	winLoss   float64 // running sums since the last point
	winErr    float64
	winN      int
	elapsed   float64 // seconds of training before this process
	lastCkpt  int     // iteration of the last checkpoint written, -1 for none
	points    []Point
	startWall time.Time
	winStart  time.Time
	winStartI int
}

// PrepareData returns the training and evaluation sets of cfg: the whole
// training set or the paper's 45k split (Config.Val), cut to TrainLimit and
// EvalLimit images, and the evaluation set's name.
func PrepareData(ds *cifar10.Dataset, cfg Config) (train, eval *cifar10.Set, name string, err error) {
	train, eval, name = ds.Train, ds.Test, "test"
	if cfg.Val {
		train, eval, err = ds.Train.Split(cifar10.PaperValidationImages, ValSplitSeed)
		if err != nil {
			return nil, nil, "", errors.Wrap(err, "validation split")
		}
		name = "val"
	}
	train, eval = train.Head(cfg.TrainLimit), eval.Head(cfg.EvalLimit)
	if train.Len() < cfg.BatchSize {
		return nil, nil, "", &FieldError{Field: "BatchSize", Value: cfg.BatchSize, Want: fmt.Sprintf("<= %d, the training set's size", train.Len())}
	}
	return train, eval, name, nil
}

// New starts a fresh run of cfg on ds in dir, which must not exist or be
// empty: an existing run is never overwritten (use Resume). The directory
// gets config.json, stats.json, an empty metrics.jsonl and the checkpoint
// of iteration 0, so that every run directory can be resumed.
func New(cfg Config, ds *cifar10.Dataset, dir string, out Output) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, errors.Errorf("run directory %s already exists and is not empty; resume it or choose another directory", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return nil, errors.Wrap(err, "run directory")
	}
	t, err := newTrainer(cfg, ds, dir, out)
	if err != nil {
		return nil, err
	}
	if err := t.start(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// start initializes a new run directory for t.
func (t *Trainer) start() error {
	if cfg := t.cfg; cfg.InitFrom != "" {
		r, err := weights.InitFrom(cfg.InitFrom, t.model, weights.LoadOptions{NonStrict: cfg.InitNonStrict})
		if err != nil {
			return errors.WithMessage(err, "initial weights")
		}
		if len(r.Skipped) > 0 && t.out.W != nil {
			fmt.Fprintf(t.out.W, "initial weights %s: kept the fresh %s\n", cfg.InitFrom, strings.Join(r.Skipped, ", "))
		}
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return errors.Wrap(err, "run directory")
	}
	if err := t.lock(); err != nil {
		return err
	}
	t.info.Created = time.Now().UTC().Format(time.RFC3339)
	if err := t.writeInfo(); err != nil {
		return err
	}
	b, _ := json.Marshal(t.stats)
	if err := atomicfile.WriteFile(filepath.Join(t.dir, StatsFile), append(b, '\n')); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(t.dir, MetricsFile), nil); err != nil {
		return err
	}
	return t.checkpoint()
}

// writeInfo writes config.json.
func (t *Trainer) writeInfo() error {
	b, _ := json.MarshalIndent(t.info, "", "  ")
	return atomicfile.WriteFile(filepath.Join(t.dir, ConfigFile), append(b, '\n'))
}

// ReadRunInfo reads the config.json of the run directory dir.
func ReadRunInfo(dir string) (RunInfo, error) {
	var info RunInfo
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return info, errors.Wrapf(err, "%s is not a run directory", dir)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, errors.Wrapf(err, "%s", filepath.Join(dir, ConfigFile))
	}
	return info, nil
}

// Resume continues the run in dir from its checkpoint, with the Config
// recorded in config.json. If change is not nil it may alter that Config
// first (a larger Iters to extend a finished run, another Data path, other
// intervals or learning rates); the changed Config is validated and
// recorded. The settings that the checkpoint and the batch order depend on
// cannot change: Model, Seed, ZeroInitResidual, BatchSize, Normalization,
// Val, TrainLimit and InitFrom. A directory without a checkpoint is an
// error, never a silent restart; stale temporary files that a killed
// process left are removed.
func Resume(dir string, ds *cifar10.Dataset, out Output, change func(*Config)) (*Trainer, error) {
	info, err := ReadRunInfo(dir)
	if err != nil {
		return nil, err
	}
	cfg := info.Config
	if change != nil {
		change(&cfg)
		if err := sameRun(info.Config, cfg); err != nil {
			return nil, err
		}
	}
	t, err := newTrainer(cfg, ds, dir, out)
	if err != nil {
		return nil, err
	}
	if err := t.resume(info, change != nil); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// resume restores t from its locked directory's checkpoint and metrics.
func (t *Trainer) resume(recorded RunInfo, changed bool) error {
	if err := t.lock(); err != nil {
		return err
	}
	if _, err := atomicfile.RemoveStale(t.dir); err != nil {
		return err
	}
	t.info.Created = recorded.Created
	ckpt, err := checkpointOf(t.dir)
	if err != nil {
		return err
	}
	if err := t.loadCheckpoint(ckpt); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(t.dir, ResultFile)); err == nil && t.iter >= t.cfg.Iters {
		return errors.Errorf("run %s already finished its %d iterations (resume it with more iterations to extend it)", t.dir, t.iter)
	}
	if changed {
		if err := t.writeInfo(); err != nil {
			return err
		}
	}
	// Metrics logged after the checkpoint are logged again.
	return t.loadMetrics()
}

// sameRun refuses a change to the settings a checkpoint depends on.
func sameRun(was, now Config) error {
	fixed := []struct {
		field    string
		was, now any
	}{
		{"Model", was.Model, now.Model}, {"Seed", was.Seed, now.Seed},
		{"ZeroInitResidual", was.ZeroInitResidual, now.ZeroInitResidual}, {"BatchSize", was.BatchSize, now.BatchSize},
		{"Normalization", was.Normalization, now.Normalization}, {"Val", was.Val, now.Val},
		{"TrainLimit", was.TrainLimit, now.TrainLimit}, {"InitFrom", was.InitFrom, now.InitFrom},
	}
	for _, f := range fixed {
		if f.was != f.now {
			return &FieldError{Field: f.field, Value: f.now, Want: fmt.Sprintf("%v, the run's own (a resumed run cannot change it)", f.was)}
		}
	}
	return nil
}

func newTrainer(cfg Config, ds *cifar10.Dataset, dir string, out Output) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, dir: dir, out: out, lastCkpt: -1, warmup: cfg.WarmupEnabled()}
	var err error
	var evalName string
	if t.train, t.eval, evalName, err = PrepareData(ds, cfg); err != nil {
		return nil, err
	}
	if t.stats, err = cifar10.ComputeStats(t.train, cfg.Normalization); err != nil {
		return nil, err
	}
	t.model, err = models.New(cfg.Model, cfg.modelOptions())
	if err != nil {
		return nil, err
	}
	if !t.model.CIFAR() {
		return nil, &FieldError{Field: "Model", Value: cfg.Model, Want: "a CIFAR-10 model (resnet20..1202, plain20..110); " + cfg.Model + " is an ImageNet model"}
	}
	if err := t.buildTraining(); err != nil {
		return nil, err
	}
	if err := t.buildEval(); err != nil {
		return nil, err
	}
	t.info = RunInfo{Config: cfg, Go: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Stats: t.stats, TrainN: t.train.Len(), EvalN: t.eval.Len(), EvalSet: evalName, Versions: map[string]string{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		t.info.Module = bi.Main.Path + "@" + bi.Main.Version
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v += " => " + d.Replace.Path + "@" + d.Replace.Version
			}
			t.info.Versions[d.Path] = v
		}
	}
	return t, nil
}

// floats returns the []float32 backing of a value.
func floats(v G.Value) ([]float32, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, errors.Errorf("value %T, want *tensor.Dense", v)
	}
	f, ok := d.Data().([]float32)
	if !ok {
		return nil, errors.Errorf("value of %v, want float32", d.Dtype())
	}
	return f, nil
}

// f32View caches the []float32 of a tensor so that reading a value every
// step does not box its slice into an interface (an allocation) again.
type f32View struct {
	t   *tensor.Dense
	ptr uintptr
	n   int
	f   []float32
}

// of returns v's float32 data.
func (c *f32View) of(v G.Value) ([]float32, error) {
	d, ok := v.(*tensor.Dense)
	if ok && d == c.t && d.DataSize() == c.n && d.DataSize() > 0 && d.Uintptr() == c.ptr {
		return c.f, nil
	}
	f, err := floats(v)
	if err != nil {
		return nil, err
	}
	c.t, c.f, c.n = d, f, len(f)
	if len(f) > 0 {
		c.ptr = d.Uintptr()
	}
	return f, nil
}

func (t *Trainer) buildTraining() error {
	s, err := NewStep(t.model, t.cfg.BatchSize, t.cfg.Momentum, t.cfg.WeightDecay)
	t.step = s
	return err
}

func (t *Trainer) buildEval() error {
	inf, err := models.NewInference(t.model, min(t.cfg.EvalBatch, t.eval.Len()))
	t.inf = inf
	return err
}

// Close releases the trainer's machines and its run directory's lock.
func (t *Trainer) Close() {
	t.step.Close()
	t.inf.Close()
	if t.unlock != nil {
		t.unlock()
		t.unlock = nil
	}
}

// Model returns the model being trained.
func (t *Trainer) Model() *models.Model { return t.model }

// Iteration returns the number of iterations done.
func (t *Trainer) Iteration() int { return t.iter }

// Dir returns the run directory.
func (t *Trainer) Dir() string { return t.dir }

// Config returns the run's settings.
func (t *Trainer) Config() Config { return t.cfg }

// EvalSet returns the evaluation set (test or validation, EvalLimit
// applied), its name ("test" or "val") and the normalization statistics
// that the training set gave.
func (t *Trainer) EvalSet() (*cifar10.Set, string, cifar10.Stats) {
	return t.eval, t.info.EvalSet, t.stats
}

// Points returns the metrics logged so far.
func (t *Trainer) Points() []Point { return t.points }

// lossAndErrors adds the cross-entropy losses and the misclassifications of
// the first n rows of logits with the given labels.
func lossAndErrors(logits []float32, labels []int, n, k int) (loss float64, wrong int) {
	for i := 0; i < n; i++ {
		z := logits[i*k : (i+1)*k]
		top, arg := math.Inf(-1), 0
		for j, v := range z {
			if float64(v) > top {
				top, arg = float64(v), j
			}
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v) - top)
		}
		loss += top + math.Log(s) - float64(z[labels[i]])
		if arg != labels[i] {
			wrong++
		}
	}
	return loss, wrong
}

// step runs one training iteration on batch b and returns its loss and
// error. gradNorms, if not nil, receives the per-stage gradient norms.
func (t *Trainer) runStep(b *cifar10.Batch, lr float64, gradNorms map[string]float64) (loss, errRate float64, err error) {
	loss, wrong, err := t.step.Run(b.Images, b.Labels)
	if err != nil {
		return 0, 0, errors.Wrapf(err, "iteration %d", t.iter)
	}
	errRate = float64(wrong) / float64(len(b.Labels))
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, errRate, nil // the caller stops before any update
	}
	if gradNorms != nil {
		grads, err := t.step.Grads()
		if err != nil {
			return 0, 0, err
		}
		stageNorms(t.step.Names, grads, gradNorms)
	}
	return loss, errRate, t.step.Update(lr)
}

// stageNorms writes the L2 norm of the gradients of each stage's learnables
// ("layer1", "layer2", ...) and of the rest ("stem_head") into out.
func stageNorms(names []string, grads [][]float32, out map[string]float64) {
	clear(out)
	for i, n := range names {
		stage := "stem_head"
		if strings.HasPrefix(n, "layer") {
			stage = n[:strings.IndexByte(n, '.')]
		}
		var s float64
		for _, v := range grads[i] {
			s += float64(v) * float64(v)
		}
		out[stage] += s
	}
	for k, v := range out {
		out[k] = math.Sqrt(v)
	}
}

// Evaluate returns the mean loss and the error rate of the model, batch norm
// in evaluation mode, on the evaluation set.
func (t *Trainer) Evaluate() (loss, errRate float64, err error) {
	return Evaluate(t.inf, t.eval, t.stats, t.cfg.Workers)
}

// Evaluate returns the mean cross-entropy and the error rate of an
// inference graph on every image of set, normalized with stats.
func Evaluate(inf *models.Inference, set *cifar10.Set, stats cifar10.Stats, workers int) (loss, errRate float64, err error) {
	it, err := cifar10.NewEvalIterator(set, stats, cifar10.EvalOptions{BatchSize: inf.Batch(), Workers: workers})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	var total float64
	var wrong int
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		copy(inf.Input(), b.Images[:cap(b.Images)])
		logits, err := inf.Run()
		if err != nil {
			b.Release()
			return 0, 0, errors.Wrap(err, "evaluation")
		}
		l, w := lossAndErrors(logits, b.Labels, b.Size, inf.Classes())
		b.Release()
		total += l
		wrong += w
	}
	n := float64(set.Len())
	return total / n, float64(wrong) / n, nil
}

// lrAt is the learning rate of the next iteration, warm-up included.
func (t *Trainer) lrAt(it int) float64 {
	if t.warmup {
		return t.cfg.WarmupLR
	}
	return t.cfg.LRAt(it)
}

// Run trains until Config.Iters iterations are done, evaluating, logging and
// checkpointing on the way, and returns the run's Result. When ctx is
// cancelled it finishes the current step, writes a checkpoint and returns
// ErrInterrupted. A NaN or infinite loss stops the run with an error and
// leaves the last checkpoint as it was.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	it, err := cifar10.NewTrainIterator(t.train, t.stats, cifar10.TrainOptions{
		BatchSize: t.cfg.BatchSize, Seed: uint64(t.cfg.Seed), StartBatch: t.iter, Workers: t.cfg.Workers})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	perEpoch := it.BatchesPerEpoch()
	t.startWall = time.Now()
	t.winStart, t.winStartI = t.startWall, t.iter
	var norms map[string]float64
	if t.cfg.Analyze {
		norms = map[string]float64{}
	}
	p := newProgress(t.out, t.cfg.Model, t.cfg.Iters, perEpoch, t.cfg.BatchSize)
	defer p.finish()
	for t.iter < t.cfg.Iters {
		b, ok := it.Next()
		if !ok {
			return nil, errors.New("the training iterator ended early")
		}
		lr := t.lrAt(t.iter)
		done := t.iter + 1
		logNow := done%t.cfg.LogEvery == 0 || done == t.cfg.Iters
		var gn map[string]float64
		if logNow {
			gn = norms
		}
		loss, errRate, err := t.runStep(b, lr, gn)
		b.Release()
		if err != nil {
			return nil, err
		}
		if !finite(loss) {
			p.clear()
			return nil, t.diverged("training loss", loss, t.iter+1, lr)
		}
		t.iter = done
		t.winLoss += loss
		t.winErr += errRate
		t.winN++
		if t.warmup {
			if !t.warmSeen {
				t.warmEMA, t.warmSeen = errRate, true
			} else {
				t.warmEMA = 0.9*t.warmEMA + 0.1*errRate
			}
			if t.warmEMA < t.cfg.WarmupErr {
				t.warmup = false
				p.log(fmt.Sprintf("%s: warm-up done at iteration %d (training error %.1f%% < %.0f%%); learning rate %g",
					t.cfg.Model, t.iter, 100*t.warmEMA, 100*t.cfg.WarmupErr, t.cfg.LRAt(t.iter)))
			}
		}
		p.update(t.iter, lr, loss, errRate, t.elapsedNow())
		evalNow := (t.cfg.EvalEvery > 0 && done%t.cfg.EvalEvery == 0) || done == t.cfg.Iters
		if logNow || evalNow {
			pt := Point{Iter: done, Epoch: float64(done) / float64(perEpoch), LR: lr}
			if t.winN > 0 {
				tl, te := t.winLoss/float64(t.winN), t.winErr/float64(t.winN)
				pt.TrainLoss, pt.TrainErr = &tl, &te
			}
			now := time.Now()
			if s := now.Sub(t.winStart).Seconds(); s > 0 {
				pt.ImgPerS = float64((done-t.winStartI)*t.cfg.BatchSize) / s
			}
			if logNow && norms != nil {
				pt.GradNorm = map[string]float64{}
				for k, v := range norms {
					pt.GradNorm[k] = v
				}
			}
			if evalNow {
				el, ee, err := t.Evaluate()
				if err != nil {
					return nil, err
				}
				pt.TestLoss, pt.TestErr = &el, &ee
			}
			pt.ElapsedS = t.elapsedNow()
			t.winLoss, t.winErr, t.winN = 0, 0, 0
			if name, v, ok := pt.nonFinite(); ok {
				p.clear()
				return nil, t.diverged(name, v, done, lr)
			}
			if err := t.appendPoint(pt); err != nil {
				return nil, err
			}
			p.point(pt, t.info.EvalSet)
			t.winStart, t.winStartI = time.Now(), done
		}
		ckptNow := (t.cfg.CkptEvery > 0 && done%t.cfg.CkptEvery == 0) || done == t.cfg.Iters
		if ckptNow {
			if err := t.checkpoint(); err != nil {
				return nil, err
			}
		}
		if (evalNow || ckptNow) && t.Hooks.Saved != nil {
			if err := t.Hooks.Saved(t); err != nil {
				return nil, err
			}
		}
		if ctx.Err() != nil && t.iter < t.cfg.Iters {
			if !ckptNow {
				if err := t.checkpoint(); err != nil {
					return nil, err
				}
			}
			p.clear()
			return nil, errors.Wrapf(ErrInterrupted, "%s at iteration %d, in %s", t.cfg.Model, t.iter, t.dir)
		}
	}
	p.clear()
	if t.Hooks.Finished != nil {
		if err := t.Hooks.Finished(t); err != nil {
			return nil, err
		}
	}
	return t.finish()
}

func (t *Trainer) elapsedNow() float64 { return t.elapsed + time.Since(t.startWall).Seconds() }

// diverged is the error of a non-finite value (what, at iteration iter).
func (t *Trainer) diverged(what string, v float64, iter int, lr float64) error {
	where := "no checkpoint had been written yet"
	if t.lastCkpt >= 0 {
		where = fmt.Sprintf("the last good checkpoint, iteration %d, is kept in %s", t.lastCkpt, filepath.Join(t.dir, CheckpointFile))
	}
	return errors.Wrapf(ErrDiverged, "%s: %s is %v at iteration %d (learning rate %g); %s", t.cfg.Model, what, v, iter, lr, where)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nonFinite returns the first value of p that is NaN or infinite, by name.
func (p Point) nonFinite() (name string, v float64, ok bool) {
	values := []struct {
		name string
		v    *float64
	}{{"training loss", p.TrainLoss}, {"training error", p.TrainErr}, {"test loss", p.TestLoss}, {"test error", p.TestErr},
		{"learning rate", &p.LR}, {"throughput", &p.ImgPerS}, {"elapsed time", &p.ElapsedS}}
	for _, x := range values {
		if x.v != nil && !finite(*x.v) {
			return x.name, *x.v, true
		}
	}
	stages := make([]string, 0, len(p.GradNorm))
	for k := range p.GradNorm {
		stages = append(stages, k)
	}
	sort.Strings(stages)
	for _, k := range stages {
		if !finite(p.GradNorm[k]) {
			return "gradient norm of " + k, p.GradNorm[k], true
		}
	}
	return "", 0, false
}

// finish writes result.json and returns the Result.
func (t *Trainer) finish() (*Result, error) {
	r := &Result{Model: t.cfg.Model, Params: t.model.NumParams(), Iters: t.iter, WallS: t.elapsedNow(), EvalSet: t.info.EvalSet,
		BestTrainErr: math.Inf(1), BestTestErr: math.Inf(1)}
	for _, p := range t.points {
		if p.TrainErr != nil {
			r.FinalTrainErr = *p.TrainErr
			r.BestTrainErr = math.Min(r.BestTrainErr, *p.TrainErr)
		}
		if p.TestErr != nil {
			r.FinalTestErr, r.FinalTestLoss = *p.TestErr, *p.TestLoss
			r.BestTestErr = math.Min(r.BestTestErr, *p.TestErr)
		}
	}
	if math.IsInf(r.BestTrainErr, 1) {
		r.BestTrainErr = r.FinalTrainErr
	}
	if math.IsInf(r.BestTestErr, 1) {
		r.BestTestErr = r.FinalTestErr
	}
	if err := SaveWeights(filepath.Join(t.dir, WeightsFile), t.model, t.stats, nil); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(t.dir, ResultFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return r, nil
}
