package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
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

// ChanceErr is the training error below which a run has left chance (90%
// for ten classes): the paper's warm-up bar for the 110-layer nets.
const ChanceErr = 0.8

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

	Normalization cifar10.Normalization `json:"normalization"` // per-pixel mean subtraction (the paper's) or per-channel standardization
	Val           bool                  `json:"val"`           // train on 45k, evaluate on the held-out 5k
	TrainLimit    int                   `json:"train_limit"`   // train on the first N training images; 0 means all
	EvalLimit     int                   `json:"eval_limit"`    // evaluate on the first N evaluation images; 0 means all
	EvalBatch     int                   `json:"eval_batch"`    // batch size of the inference graph
	EvalEvery     int                   `json:"eval_every"`    // iterations between evaluations (and at the end); 0 means only at the end
	LogEvery      int                   `json:"log_every"`     // iterations between metrics.jsonl points
	CkptEvery     int                   `json:"ckpt_every"`    // iterations between checkpoints (and at the end); 0 means only at the end
	Workers       int                   `json:"workers"`       // goroutines preparing batches
	Analyze       bool                  `json:"analyze"`       // layer responses at the end, gradient norms in the metrics
	Data          string                `json:"data"`          // the data path used (informational)
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
		Warmup: WarmupAuto, WarmupLR: 0.01, WarmupErr: ChanceErr,
		Normalization: cifar10.PerPixelMean,
		EvalBatch:     200, EvalEvery: 1000, LogEvery: 50, CkptEvery: 1000,
		Workers: 1,
	}
}

// FieldError is an invalid Config setting: the field, its value and what
// the field wants. A command maps Field to its own flag names.
type FieldError struct {
	Field string // the Config field, e.g. "Iters"
	Value any    // the rejected value
	Want  string // what the field accepts, e.g. "> 0"
}

// Error says the field, its value and what it wants, in Config's terms.
func (e *FieldError) Error() string {
	if s, ok := e.Value.(string); ok {
		return fmt.Sprintf("Config.%s: %q, want %s", e.Field, s, e.Want)
	}
	return fmt.Sprintf("Config.%s: %v, want %s", e.Field, e.Value, e.Want)
}

// Validate reports the first bad setting as a *FieldError.
func (c *Config) Validate() error {
	known := false
	for _, n := range models.Names() {
		known = known || n == c.Model
	}
	bad := func(field string, value any, want string) error {
		return &FieldError{Field: field, Value: value, Want: want}
	}
	switch {
	case !known:
		return bad("Model", c.Model, "one of "+strings.Join(models.Names(), ", "))
	case c.Iters <= 0:
		return bad("Iters", c.Iters, "> 0")
	case c.BatchSize <= 0:
		return bad("BatchSize", c.BatchSize, "> 0")
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return bad("LR", c.LR, "a finite number > 0")
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return bad("Momentum", c.Momentum, "0 <= momentum < 1")
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return bad("WeightDecay", c.WeightDecay, "a finite number >= 0")
	case c.Schedule != ScheduleStep && c.Schedule != ScheduleCosine:
		return bad("Schedule", c.Schedule, ScheduleStep+" or "+ScheduleCosine)
	case !(c.Gamma > 0 && c.Gamma <= 1):
		return bad("Gamma", c.Gamma, "0 < gamma <= 1")
	case c.Warmup != WarmupAuto && c.Warmup != WarmupOn && c.Warmup != WarmupOff:
		return bad("Warmup", c.Warmup, WarmupAuto+", "+WarmupOn+" or "+WarmupOff)
	case !(c.WarmupLR > 0) || math.IsInf(c.WarmupLR, 0):
		return bad("WarmupLR", c.WarmupLR, "a finite number > 0")
	case !(c.WarmupErr > 0 && c.WarmupErr <= 1):
		return bad("WarmupErr", c.WarmupErr, "0 < error <= 1")
	case c.Normalization != cifar10.PerPixelMean && c.Normalization != cifar10.PerChannel:
		return bad("Normalization", c.Normalization, cifar10.PerPixelMean.String()+" or "+cifar10.PerChannel.String())
	case c.TrainLimit < 0:
		return bad("TrainLimit", c.TrainLimit, ">= 0 (0 means all images)")
	case c.EvalLimit < 0:
		return bad("EvalLimit", c.EvalLimit, ">= 0 (0 means all images)")
	case c.EvalBatch <= 0:
		return bad("EvalBatch", c.EvalBatch, "> 0")
	case c.EvalEvery < 0:
		return bad("EvalEvery", c.EvalEvery, ">= 0 (0 means only at the end)")
	case c.LogEvery <= 0:
		return bad("LogEvery", c.LogEvery, "> 0")
	case c.CkptEvery < 0:
		return bad("CkptEvery", c.CkptEvery, ">= 0 (0 means only at the end)")
	case c.Workers < 0:
		return bad("Workers", c.Workers, ">= 0")
	}
	for i, m := range c.Milestones {
		if m <= 0 || (i > 0 && m <= c.Milestones[i-1]) {
			return bad("Milestones", c.Milestones, "increasing iterations > 0")
		}
	}
	return nil
}

// modelOptions are the options of the model c trains.
func (c Config) modelOptions() models.Options {
	return models.Options{Seed: c.Seed, ZeroInitResidual: c.ZeroInitResidual}
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

// ScaledMilestones returns the paper's milestones moved to a run of iters
// iterations: 50% and 75% of it (32k and 48k of 64k).
func ScaledMilestones(iters int) []int {
	a, b := iters/2, iters*3/4
	switch {
	case a <= 0:
		return nil
	case b <= a:
		return []int{a}
	}
	return []int{a, b}
}
