package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/pkg/errors"
)

// Schedules a Config can name.
const (
	ScheduleStep   = "step"   // the paper's: LR times Gamma at every milestone
	ScheduleCosine = "cosine" // cosine annealing from LR to 0 over Iters
)

// Warm-up settings a Config can name.
const (
	WarmupAuto = "auto" // on for resnet110 and plain110 only, as in the paper
	WarmupOn   = "on"
	WarmupOff  = "off"
)

// Config is every setting of a training run. Paper returns the values of He
// et al. 2016, section 4.2; config.json of a run directory holds it.
type Config struct {
	Model            string  `json:"model"`              // zoo model name, e.g. "resnet20"
	Seed             int64   `json:"seed"`               // weight initialization, shuffling and augmentation
	ZeroInitResidual bool    `json:"zero_init_residual"` // start residual blocks as the identity
	Iters            int     `json:"iters"`              // training iterations (steps)
	BatchSize        int     `json:"batch_size"`         // images per step
	LR               float64 `json:"lr"`                 // base learning rate
	Momentum         float64 `json:"momentum"`           // SGD momentum
	// WeightDecay is PyTorch's: added to the gradient of every learnable,
	// BN gamma/beta and the fc bias included (PyTorch's default).
	WeightDecay float64 `json:"weight_decay"`
	Schedule    string  `json:"schedule"`   // ScheduleStep or ScheduleCosine
	Milestones  []int   `json:"milestones"` // iterations where the step schedule multiplies the LR by Gamma
	Gamma       float64 `json:"gamma"`      // the step schedule's factor
	// Warmup is WarmupAuto, WarmupOn or WarmupOff: train at WarmupLR until
	// the training error (an exponential average over batches, weight 0.1)
	// falls below WarmupErr, then at LR. The paper does this for ResNet-110
	// (0.01 until the training error is below 80%, about 400 iterations).
	Warmup    string  `json:"warmup"`
	WarmupLR  float64 `json:"warmup_lr"`
	WarmupErr float64 `json:"warmup_err"`

	Normalization string `json:"normalization"` // "per-pixel-mean" (paper) or "per-channel"
	Val           bool   `json:"val"`           // train on 45k, evaluate on the held-out 5k
	TrainLimit    int    `json:"train_limit"`   // train on the first N training images; 0 means all
	EvalLimit     int    `json:"eval_limit"`    // evaluate on the first N evaluation images; 0 means all
	EvalBatch     int    `json:"eval_batch"`    // batch size of the inference graph
	EvalEvery     int    `json:"eval_every"`    // iterations between evaluations (and at the end); 0 means only at the end
	LogEvery      int    `json:"log_every"`     // iterations between metrics.jsonl points
	CkptEvery     int    `json:"ckpt_every"`    // iterations between checkpoints (and at the end); 0 means only at the end
	Workers       int    `json:"workers"`       // goroutines preparing batches
	Analyze       bool   `json:"analyze"`       // layer responses at the end, gradient norms in the metrics
	Data          string `json:"data"`          // the data path used (informational)
	// InitFrom is a weights file (safetensors, torchvision names) to start
	// from instead of a fresh initialization; a classifier of another shape
	// is skipped (fine-tuning to another class count). InitNonStrict loads
	// what matches and skips the rest.
	InitFrom      string `json:"init_from,omitempty"`
	InitNonStrict bool   `json:"init_non_strict,omitempty"`
}

// Paper returns the paper's recipe for model: batch 128, LR 0.1 divided by
// 10 at 32k and 48k iterations, 64k iterations, momentum 0.9, weight decay
// 1e-4, per-pixel mean subtraction, warm-up for the 110-layer nets.
func Paper(model string) Config {
	return Config{
		Model: model, Seed: 1,
		Iters: 64000, BatchSize: 128, LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4,
		Schedule: ScheduleStep, Milestones: []int{32000, 48000}, Gamma: 0.1,
		Warmup: WarmupAuto, WarmupLR: 0.01, WarmupErr: EarlyErr,
		Normalization: "per-pixel-mean",
		EvalBatch:     200, EvalEvery: 1000, LogEvery: 50, CkptEvery: 1000,
		Workers: 1,
	}
}

// Validate reports the first bad setting, naming it as the command's flag.
func (c *Config) Validate() error {
	known := false
	for _, n := range models.Names() {
		known = known || n == c.Model
	}
	switch {
	case !known:
		return errors.Errorf("-model %q: want one of %s", c.Model, strings.Join(models.Names(), ", "))
	case c.Iters <= 0:
		return errors.Errorf("-iters %d: want a positive number of iterations", c.Iters)
	case c.BatchSize <= 0:
		return errors.Errorf("-batch %d: want a positive batch size", c.BatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return errors.Errorf("-lr %v: want a positive finite learning rate", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return errors.Errorf("-momentum %v: want 0 <= momentum < 1", c.Momentum)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return errors.Errorf("-wd %v: want a finite weight decay >= 0", c.WeightDecay)
	case c.Schedule != ScheduleStep && c.Schedule != ScheduleCosine:
		return errors.Errorf("-schedule %q: want step or cosine", c.Schedule)
	case !(c.Gamma > 0 && c.Gamma <= 1):
		return errors.Errorf("-gamma %v: want 0 < gamma <= 1", c.Gamma)
	case c.Warmup != WarmupAuto && c.Warmup != WarmupOn && c.Warmup != WarmupOff:
		return errors.Errorf("-warmup %q: want auto, on or off", c.Warmup)
	case !(c.WarmupLR > 0):
		return errors.Errorf("-warmup-lr %v: want a positive learning rate", c.WarmupLR)
	case !(c.WarmupErr > 0 && c.WarmupErr <= 1):
		return errors.Errorf("-warmup-err %v: want 0 < error <= 1", c.WarmupErr)
	case c.Normalization != "per-pixel-mean" && c.Normalization != "per-channel":
		return errors.Errorf("-norm %q: want per-pixel-mean or per-channel", c.Normalization)
	case c.TrainLimit < 0:
		return errors.Errorf("-train-limit %d: want >= 0 (0 means all images)", c.TrainLimit)
	case c.EvalLimit < 0:
		return errors.Errorf("-eval-limit %d: want >= 0 (0 means all images)", c.EvalLimit)
	case c.EvalBatch <= 0:
		return errors.Errorf("-eval-batch %d: want a positive batch size", c.EvalBatch)
	case c.EvalEvery < 0:
		return errors.Errorf("-eval-every %d: want >= 0 (0 means only at the end)", c.EvalEvery)
	case c.LogEvery <= 0:
		return errors.Errorf("-log-every %d: want a positive number of iterations", c.LogEvery)
	case c.CkptEvery < 0:
		return errors.Errorf("-ckpt-every %d: want >= 0 (0 means only at the end)", c.CkptEvery)
	case c.Workers < 0:
		return errors.Errorf("-workers %d: want >= 0", c.Workers)
	}
	for i, m := range c.Milestones {
		if m <= 0 || (i > 0 && m <= c.Milestones[i-1]) {
			return errors.Errorf("-milestones %v: want increasing positive iterations", c.Milestones)
		}
	}
	return nil
}

// WarmupEnabled reports whether the run starts with the warm-up.
func (c Config) WarmupEnabled() bool {
	switch c.Warmup {
	case WarmupOn:
		return true
	case WarmupAuto:
		return c.Model == "resnet110" || c.Model == "plain110"
	}
	return false
}

// LRAt returns the scheduled learning rate of iteration it (0-based),
// warm-up aside.
func (c Config) LRAt(it int) float64 {
	if c.Schedule == ScheduleCosine {
		return c.LR * 0.5 * (1 + math.Cos(math.Pi*float64(it)/float64(c.Iters)))
	}
	lr := c.LR
	for _, m := range c.Milestones {
		if it >= m {
			lr *= c.Gamma
		}
	}
	// 0.1*0.1 is 0.010000000000000002: keep 12 digits, which prints as 0.01
	// and is the same float32.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(lr, 'g', 12, 64), 64)
	return r
}

// ParseMilestones parses "32000,48000" (or "" for none).
func ParseMilestones(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		var v int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &v); err != nil || fmt.Sprint(v) != strings.TrimSpace(f) {
			return nil, errors.Errorf("-milestones %q: want comma-separated iterations, e.g. 32000,48000", s)
		}
		out = append(out, v)
	}
	return out, nil
}
