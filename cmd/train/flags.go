package main

import (
	"encoding"
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

// configFlag ties a flag to the train.Config field it sets.
type configFlag struct {
	name  string // the flag, without its dash
	field string // the train.Config field, as a *train.FieldError names it
	usage string // the flag's help; a `quoted` word names its value
	// negate makes the flag the field's negation: -strict=false sets
	// InitNonStrict.
	negate bool
}

// configFlags is the one table between train.Config and the command line.
// It registers the training flags of run, sweep and resume, copies the
// flags given onto a Config, and names the flag of a *train.FieldError: the
// library speaks in fields, the command in flags. Help lists them in this
// order.
var configFlags = []configFlag{
	{name: "model", field: "Model", usage: "CIFAR-10 model `name`: " + strings.Join(models.CIFARNames(), ", ")},
	{name: "data", field: "Data", usage: "CIFAR-10 `path`: the archive or its extracted directory (default: $CIFAR10_DATA, else the cache directory, downloading when missing)"},
	{name: "seed", field: "Seed", usage: "random `seed` of initialization, shuffling and augmentation"},
	{name: "zero-init-residual", field: "ZeroInitResidual", usage: "start every residual block as the identity (last BN gamma 0)"},
	{name: "init-from", field: "InitFrom", usage: "start from the weights in `FILE` (safetensors, torchvision names; a classifier of another shape is re-initialized)"},
	{name: "strict", field: "InitNonStrict", negate: true, usage: "with -init-from: fail on any missing, extra or misshapen tensor (false: load what matches and report the rest)"},
	{name: "iters", field: "Iters", usage: "training `iterations`"},
	{name: "batch", field: "BatchSize", usage: "`images` per step"},
	{name: "lr", field: "LR", usage: "learning `rate`"},
	{name: "momentum", field: "Momentum", usage: "SGD `momentum`"},
	{name: "wd", field: "WeightDecay", usage: "weight `decay`, PyTorch style, on every learnable (BN and biases included)"},
	{name: "schedule", field: "Schedule", usage: "learning-rate `schedule`: step or cosine"},
	{name: "milestones", field: "Milestones", usage: "comma-separated `iterations` where the step schedule multiplies the learning rate by -gamma\n(a new run given -iters or -epochs but not -milestones: 50% and 75% of its iterations)"},
	{name: "gamma", field: "Gamma", usage: "step schedule `factor`"},
	{name: "warmup", field: "Warmup", usage: "warm-up `mode`, auto (resnet110 and plain110 only), on or off: train at -warmup-lr\nuntil the training error is below -warmup-err"},
	{name: "warmup-lr", field: "WarmupLR", usage: "warm-up learning `rate`"},
	{name: "warmup-err", field: "WarmupErr", usage: "training `error` (0..1) that ends the warm-up"},
	{name: "norm", field: "Normalization", usage: "input `normalization`: per-pixel-mean (the paper's) or per-channel"},
	{name: "val", field: "Val", usage: "train on 45k images and evaluate on the held-out 5k (the paper's split) instead of the test set"},
	{name: "train-limit", field: "TrainLimit", usage: "train on the first `N` training images (0: all)"},
	{name: "eval-limit", field: "EvalLimit", usage: "evaluate on the first `N` test (or validation) images (0: all)"},
	{name: "eval-every", field: "EvalEvery", usage: "`iterations` between evaluations (0: only at the end)"},
	{name: "eval-batch", field: "EvalBatch", usage: "batch `size` of the inference graph"},
	{name: "log-every", field: "LogEvery", usage: "`iterations` between metrics points"},
	{name: "ckpt-every", field: "CkptEvery", usage: "`iterations` between checkpoints (0: only at the end)"},
	{name: "workers", field: "Workers", usage: "`goroutines` preparing batches"},
	{name: "analyze", field: "Analyze", usage: "log per-stage gradient norms; at the end, the std of every 3x3 layer's response (Figure 7)"},
}

// pick returns the rows of configFlags named, in the table's order.
func pick(names ...string) []configFlag {
	var rows []configFlag
	for _, r := range configFlags {
		if slices.Contains(names, r.name) {
			rows = append(rows, r)
		}
	}
	return rows
}

// omit returns the rows of configFlags not named.
func omit(names ...string) []configFlag {
	var rows []configFlag
	for _, r := range configFlags {
		if !slices.Contains(names, r.name) {
			rows = append(rows, r)
		}
	}
	return rows
}

// bindConfig registers rows on fs, each flag parsing into its field of c.
// With defaults false the flags override settings that come from
// elsewhere (a sweep's preset, a run's config.json), and help shows no
// default for them.
func bindConfig(fs *flag.FlagSet, c *train.Config, defaults bool, rows []configFlag) {
	v := reflect.ValueOf(c).Elem()
	for _, r := range rows {
		f := v.FieldByName(r.field)
		if !f.IsValid() {
			panic("configFlags: train.Config has no field " + r.field)
		}
		fs.Var(&fieldValue{v: f, negate: r.negate}, r.name, r.usage)
		if !defaults {
			fs.Lookup(r.name).DefValue = ""
		}
	}
}

// given returns the names of the flags set on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// copyConfig copies onto dst the fields of src whose flags were given.
func copyConfig(dst, src *train.Config, set map[string]bool) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for _, r := range configFlags {
		if set[r.name] {
			d.FieldByName(r.field).Set(s.FieldByName(r.field))
		}
	}
}

// flagError translates a *train.FieldError in err into a usage error of
// command cmd in the command's terms: Config.Iters 0, want > 0 becomes
// "-iters 0: want > 0". Other errors pass unchanged.
func flagError(cmd string, err error) error {
	var fe *train.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	for _, r := range configFlags {
		if r.field == fe.Field && fe.Value != nil {
			v := reflect.New(reflect.TypeOf(fe.Value)).Elem()
			v.Set(reflect.ValueOf(fe.Value))
			s := (&fieldValue{v: v, negate: r.negate}).String()
			if s == "" {
				s = `""`
			}
			return usagef(cmd, "-%s %s: want %s", r.name, s, fe.Want)
		}
	}
	return err
}

// fieldValue is a flag.Value that parses into one train.Config field:
// a string, bool, int, int64, float64, encoding.TextUnmarshaler, or
// []int (comma-separated).
type fieldValue struct {
	v      reflect.Value // the field, addressable
	negate bool
}

// String formats the field as its flag is written. The flag package calls
// it on a zero fieldValue too.
func (f *fieldValue) String() string {
	if f == nil || !f.v.IsValid() {
		return ""
	}
	switch x := f.v.Interface().(type) {
	case []int:
		s := make([]string, len(x))
		for i, n := range x {
			s[i] = strconv.Itoa(n)
		}
		return strings.Join(s, ",")
	case bool:
		return strconv.FormatBool(x != f.negate)
	case encoding.TextMarshaler:
		if b, err := x.MarshalText(); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(f.v.Interface())
}

// Set parses s into the field.
func (f *fieldValue) Set(s string) error {
	switch p := f.v.Addr().Interface().(type) {
	case *[]int:
		ms, err := parseMilestones(s)
		*p = ms
		return err
	case encoding.TextUnmarshaler:
		return p.UnmarshalText([]byte(s))
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		*p = b != f.negate
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("want an integer")
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("want an integer")
		}
		*p = n
	case *float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("want a number")
		}
		*p = x
	default:
		return errors.Errorf("no flag syntax for %s", f.v.Type())
	}
	return nil
}

// IsBoolFlag lets a bool field's flag stand alone: -val for -val=true.
func (f *fieldValue) IsBoolFlag() bool { return f.v.IsValid() && f.v.Kind() == reflect.Bool }

// parseMilestones parses "32000,48000" (or "" for none).
func parseMilestones(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, errors.New("want comma-separated iterations, e.g. 32000,48000")
		}
		out = append(out, v)
	}
	return out, nil
}
