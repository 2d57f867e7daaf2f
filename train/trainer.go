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
	"strings"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
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
	CurvesFile     = "curves.png"             // loss and error against iterations
	ResultFile     = "result.json"            // Result, written when the run finishes
	WeightsFile    = "weights.safetensors"    // the final weights with their normalization, for -eval and -predict
	StatsFile      = "stats.json"             // the normalization statistics (cifar10.Stats), for inference
	AnalysisFile   = "analysis.json"          // Analysis, with Config.Analyze
	ResponsesFile  = "responses.png"          // layer response std, with Config.Analyze
)

// ValSplitSeed fixes the 45k/5k split of Config.Val, so every run of a
// sweep holds out the same 5,000 images whatever its seed.
const ValSplitSeed = 1

// ErrInterrupted is returned by Run when its context was cancelled (SIGINT,
// SIGTERM): the current step was finished and a checkpoint written.
var ErrInterrupted = errors.New("training interrupted; checkpoint written")

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

// Trainer trains one model in one run directory.
type Trainer struct {
	cfg   Config
	dir   string
	out   Output
	model *models.Model
	info  RunInfo

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
			return nil, nil, "", errors.Wrap(err, "-val")
		}
		name = "val"
	}
	train, eval = train.Head(cfg.TrainLimit), eval.Head(cfg.EvalLimit)
	if train.Len() < cfg.BatchSize {
		return nil, nil, "", errors.Errorf("-batch %d: the training set has only %d images", cfg.BatchSize, train.Len())
	}
	return train, eval, name, nil
}

// New starts a fresh run of cfg on ds in dir, which must not exist or be
// empty: an existing run is never overwritten (use Resume).
func New(cfg Config, ds *cifar10.Dataset, dir string, out Output) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, errors.Errorf("run directory %s already exists and is not empty; resume it with -resume %s or choose another -out", dir, dir)
	} else if err != nil && !os.IsNotExist(err) {
		return nil, errors.Wrap(err, "run directory")
	}
	t, err := newTrainer(cfg, ds, dir, out)
	if err != nil {
		return nil, err
	}
	if cfg.InitFrom != "" {
		r, err := weights.InitFrom(cfg.InitFrom, t.model, weights.LoadOptions{NonStrict: cfg.InitNonStrict})
		if err != nil {
			return nil, errors.WithMessage(err, "-init-from")
		}
		if len(r.Skipped) > 0 && out.W != nil {
			fmt.Fprintf(out.W, "-init-from %s: kept the fresh %s\n", cfg.InitFrom, strings.Join(r.Skipped, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errors.Wrap(err, "run directory")
	}
	t.info.Created = time.Now().UTC().Format(time.RFC3339)
	b, _ := json.MarshalIndent(t.info, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, ConfigFile), append(b, '\n')); err != nil {
		return nil, err
	}
	b, _ = json.Marshal(t.stats)
	if err := writeFileAtomic(filepath.Join(dir, StatsFile), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, MetricsFile), nil); err != nil {
		return nil, err
	}
	return t, nil
}

// Resume continues the run in dir from its checkpoint. With iters > 0 the
// run's length is changed to iters (to extend a finished run).
func Resume(dir string, ds *cifar10.Dataset, out Output, iters int) (*Trainer, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, errors.Wrapf(err, "-resume %s: not a run directory", dir)
	}
	var info RunInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, errors.Wrapf(err, "-resume %s: %s", dir, ConfigFile)
	}
	cfg := info.Config
	if iters > 0 {
		cfg.Iters = iters
	}
	t, err := newTrainer(cfg, ds, dir, out)
	if err != nil {
		return nil, err
	}
	t.info.Created = info.Created
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		if err := t.loadCheckpoint(filepath.Join(dir, CheckpointFile)); err != nil {
			return nil, err
		}
	} else if !os.IsNotExist(err) {
		return nil, errors.Wrap(err, "checkpoint")
	}
	if t.iter >= cfg.Iters && exists(filepath.Join(dir, ResultFile)) {
		return nil, errors.Errorf("-resume %s: the run already finished its %d iterations (give a larger -iters to extend it)", dir, t.iter)
	}
	if iters > 0 {
		b, _ := json.MarshalIndent(t.info, "", "  ")
		if err := writeFileAtomic(filepath.Join(dir, ConfigFile), append(b, '\n')); err != nil {
			return nil, err
		}
	}
	// Metrics logged after the checkpoint are logged again.
	if err := t.loadMetrics(); err != nil {
		return nil, err
	}
	return t, nil
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
	norm := cifar10.PerPixelMean
	if cfg.Normalization == "per-channel" {
		norm = cifar10.PerChannel
	}
	if t.stats, err = cifar10.ComputeStats(t.train, norm); err != nil {
		return nil, err
	}
	t.model, err = models.New(cfg.Model, models.Options{Seed: cfg.Seed, ZeroInitResidual: cfg.ZeroInitResidual})
	if err != nil {
		return nil, errors.Wrap(err, "-model")
	}
	if !t.model.CIFAR() {
		return nil, errors.Errorf("-model %s: an ImageNet model; the trainer trains the CIFAR-10 models (resnet20..1202, plain20..110)", cfg.Model)
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

// Close releases the trainer's machines.
func (t *Trainer) Close() {
	t.step.Close()
	t.inf.Close()
}

// Model returns the model being trained.
func (t *Trainer) Model() *models.Model { return t.model }

// Iteration returns the number of iterations done.
func (t *Trainer) Iteration() int { return t.iter }

// Dir returns the run directory.
func (t *Trainer) Dir() string { return t.dir }

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
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			p.clear()
			return nil, t.nanError(loss, lr)
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
		p.update(t.iter, loss, errRate, t.elapsedNow())
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
		if evalNow || ckptNow {
			if err := t.drawCurves(); err != nil {
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
	if t.cfg.Analyze {
		if err := t.analyze(); err != nil {
			return nil, err
		}
	}
	return t.finish()
}

func (t *Trainer) elapsedNow() float64 { return t.elapsed + time.Since(t.startWall).Seconds() }

func (t *Trainer) nanError(loss, lr float64) error {
	where := "no checkpoint had been written yet"
	if t.lastCkpt >= 0 {
		where = fmt.Sprintf("the last good checkpoint, iteration %d, is kept in %s", t.lastCkpt, filepath.Join(t.dir, CheckpointFile))
	} else if _, err := os.Stat(filepath.Join(t.dir, CheckpointFile)); err == nil {
		where = fmt.Sprintf("the last good checkpoint is kept in %s", filepath.Join(t.dir, CheckpointFile))
	}
	return errors.Errorf("%s: training loss is %v at iteration %d (learning rate %g): the run diverged and was stopped; %s",
		t.cfg.Model, loss, t.iter+1, lr, where)
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
	if err := weights.Save(filepath.Join(t.dir, WeightsFile), t.model, t.weightsMetadata()); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := writeFileAtomic(filepath.Join(t.dir, ResultFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return r, nil
}

// weightsMetadata records the input normalization with the final weights,
// so that prediction preprocesses as training did: per-channel mean and std
// and, for per-pixel mean subtraction, the mean image itself (the
// per-channel keys then hold its channel averages and std 1).
func (t *Trainer) weightsMetadata() map[string]string {
	mean, std := make([]float64, 3), []float64{1, 1, 1}
	per := len(t.stats.Mean) / 3
	for c := range mean {
		for _, v := range t.stats.Mean[c*per : (c+1)*per] {
			mean[c] += float64(v) / float64(per)
		}
		if len(t.stats.Std) == 3 {
			std[c] = float64(t.stats.Std[c])
		}
	}
	md := map[string]string{
		weights.KeyNormalizeMean: weights.FormatFloats(mean),
		weights.KeyNormalizeStd:  weights.FormatFloats(std),
		"normalization":          t.cfg.Normalization,
	}
	if per > 1 {
		md[weights.KeyNormalizePixelMean] = weights.FormatFloats(t.stats.Mean)
	}
	return md
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return errors.Wrap(err, "write "+path)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return errors.Wrap(err, "write "+path)
	}
	return nil
}
