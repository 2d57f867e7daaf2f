package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/predict"
	"github.com/gorgonia-zoo/resnet/pretrained"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// weightsFlags are the flags of the commands that load weights: a file,
// or the weights shipped with the zoo (package pretrained).
type weightsFlags struct {
	path   string
	model  string
	strict bool
	fs     *flag.FlagSet
}

// shipped says which models have shipped weights, for help and errors.
func shipped() string {
	if names := pretrained.Models(); len(names) > 0 {
		return "shipped: " + strings.Join(names, ", ")
	}
	return "none shipped yet"
}

// bindWeights registers -weights, -model and -strict on fs.
func bindWeights(fs *flag.FlagSet) *weightsFlags {
	w := &weightsFlags{fs: fs}
	fs.StringVar(&w.path, "weights", "", "weights `FILE` (safetensors, torchvision names); default: the weights shipped with the zoo for -model ("+shipped()+")")
	fs.StringVar(&w.model, "model", "resnet20", "the `name` of the zoo model whose shipped weights to use without -weights, or of a weights file without \"model\" metadata: "+strings.Join(models.Names(), ", "))
	fs.BoolVar(&w.strict, "strict", true, "fail on any missing, extra or misshapen tensor of -weights (false: load what matches and report the rest)")
	return w
}

// check reports an unknown -model, or a missing -weights for a model
// without shipped weights.
func (w *weightsFlags) check() error {
	if !slices.Contains(models.Names(), w.model) {
		return errors.Errorf("-model %s: want one of %s", w.model, strings.Join(models.Names(), ", "))
	}
	if w.path == "" && !slices.Contains(pretrained.Models(), w.model) {
		return errors.Errorf("%s has no shipped weights (%s): pass -weights FILE", w.model, shipped())
	}
	return nil
}

// source names the weights in messages: the -weights file, or the
// shipped file of -model.
func (w *weightsFlags) source() string {
	if w.path != "" {
		return w.path
	}
	return "the shipped " + w.model + " weights"
}

// load builds the model a weights file describes (its "model" metadata),
// or the -model one for files without it, and loads the file; without
// -weights, the model of -model with its shipped weights, which it names
// on stderr.
func (w *weightsFlags) load(stderr io.Writer) (*models.Model, map[string]string, error) {
	if w.path == "" {
		e, err := pretrained.Lookup(w.model)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(stderr, "%s: %s, %d iterations, test error %.2f%% on %d test images\n",
			w.source(), e.Path, e.Iterations, 100*e.TestError, e.TestImages)
		m, err := e.Load()
		return m, e.Metadata, err
	}
	md, err := weights.ReadMetadata(w.path)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "-weights")
	}
	opts := weights.LoadOptions{NonStrict: !w.strict}
	name := md[weights.KeyModel]
	if name != "" && given(w.fs)["model"] && name != w.model {
		return nil, nil, errors.Errorf("-model %s: %s holds %s weights", w.model, w.path, name)
	}
	if name != "" && w.strict {
		m, _, err := weights.LoadModel(w.path, models.Options{})
		return m, md, errors.WithMessage(err, "-weights")
	}
	if name == "" {
		name = w.model
	}
	m, err := models.New(name, models.Options{})
	if err != nil {
		return nil, nil, errors.WithMessage(err, "-weights")
	}
	r, err := weights.Load(w.path, m, opts)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "-weights")
	}
	if len(r.Mismatches) > 0 {
		fmt.Fprintf(stderr, "-strict=false: %s\n", r)
	}
	return m, md, nil
}

var evalCmd = &command{
	name: "eval", short: "report the test loss and error of a weights file",
	long: `Eval measures the CIFAR-10 test loss and error of a CIFAR model's weights
(a run's weights.safetensors, or weights converted from PyTorch), with batch
norm in evaluation mode and the normalization recorded in the file; only for
a file that records none does -norm choose (statistics of the training set).
Without -weights it measures the weights shipped with the zoo for -model
(` + shipped() + `).`,
	example: `train eval -weights runs/resnet20-20261127-081500/weights.safetensors
train eval -weights resnet20.safetensors -eval-limit 1000 -data cifar-10-binary.tar.gz`,
	setup: setupEval,
}

func setupEval(fs *flag.FlagSet) func([]string) (action, error) {
	w := bindWeights(fs)
	flags := train.Paper("")
	bindConfig(fs, &flags, true, pick("data", "norm", "eval-limit"))
	download := fs.Bool("download", false, downloadUsage)
	return func([]string) (action, error) {
		if err := w.check(); err != nil {
			return nil, err
		}
		if flags.EvalLimit < 0 {
			return nil, errors.Errorf("-eval-limit %d: want >= 0 (0: all images)", flags.EvalLimit)
		}
		return func(ctx context.Context, e env) error {
			return evaluate(ctx, e, w, flags, *download)
		}, nil
	}
}

// evaluate reports the test loss and error of the weights w, on the data
// and with the normalization and image limit of flags.
func evaluate(ctx context.Context, e env, w *weightsFlags, flags train.Config, download bool) error {
	m, md, err := w.load(e.stderr)
	if err != nil {
		return err
	}
	if !m.CIFAR() {
		return errors.Errorf("%s is an ImageNet model; eval measures the CIFAR-10 test set", m.Name())
	}
	ds, _, err := loadData(ctx, flags.Data, download, e.stderr)
	if err != nil {
		return err
	}
	stats, err := inputNormalization(w, m, md, flags.Normalization, func() (*cifar10.Dataset, error) { return ds, nil })
	if err != nil {
		return err
	}
	test := ds.Test
	if flags.EvalLimit > 0 && flags.EvalLimit < test.Len() {
		test = test.Head(flags.EvalLimit)
	}
	loss, errRate, err := testScore(m, test, stats)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s on %d test images (%s normalization): test loss %.4f, test error %.2f%%\n", m.Name(), test.Len(), stats.Normalization, loss, 100*errRate)
	return nil
}

// testScore is eval's measure, which export records: the mean
// cross-entropy and the error rate of m, batch norm in evaluation mode, on
// the images of test normalized with stats.
func testScore(m *models.Model, test *cifar10.Set, stats cifar10.Stats) (loss, errRate float64, err error) {
	inf, err := models.NewInference(m, min(200, test.Len()))
	if err != nil {
		return 0, 0, err
	}
	defer inf.Close()
	return train.Evaluate(inf, test, stats, 0)
}

var predictCmd = &command{
	name: "predict", args: "IMAGE...", minArgs: 1, maxArgs: -1,
	short: "print the top-5 classes of PNG or JPEG images",
	long: `Predict classifies PNG and JPEG images with the weights of any zoo model:
CIFAR models take 32x32 images normalized as recorded in the weights file,
ImageNet models get torchvision's evaluation transform. It prints the five
most probable classes of each image, or with -json one JSON object per image.
Without -weights it uses the weights shipped with the zoo for -model
(` + shipped() + `), and names them on stderr. The normalization is the one
the weights record; only for a file that records none does -norm choose: for
a CIFAR model the statistics of the CIFAR-10 training set (read from -data),
for an ImageNet model per-channel, ImageNet's mean and std. Images are
checked from their headers before they are decoded: PNG or JPEG, at most
-max-pixels.`,
	example: `train predict -weights resnet50.safetensors cat.jpg dog.png
train predict -weights runs/resnet20-20261127-081500/weights.safetensors -json plane.png`,
	setup: setupPredict,
}

func setupPredict(fs *flag.FlagSet) func([]string) (action, error) {
	w := bindWeights(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per image")
	maxPixels := fs.Int("max-pixels", predict.DefaultMaxPixels, "refuse images of more `pixels` (width x height), read from the header before decoding")
	flags := train.Paper("")
	bindConfig(fs, &flags, true, pick("data", "norm"))
	download := fs.Bool("download", false, downloadUsage)
	return func(images []string) (action, error) {
		if err := w.check(); err != nil {
			return nil, err
		}
		if *maxPixels <= 0 {
			return nil, errors.Errorf("-max-pixels %d: want > 0", *maxPixels)
		}
		return func(ctx context.Context, e env) error {
			data := func() (*cifar10.Dataset, error) {
				ds, _, err := loadData(ctx, flags.Data, *download, e.stderr)
				return ds, err
			}
			return classify(e, w, images, flags.Normalization, data, *maxPixels, *asJSON)
		}, nil
	}
}

// inputNormalization is what eval and predict normalize the weights'
// inputs with: what the file records (the one rule,
// weights.InputNormalization), or, only for a file that records none, the
// explicit -norm: statistics of the CIFAR-10 training set (from data) or,
// for an ImageNet model, ImageNet's mean and std.
func inputNormalization(w *weightsFlags, m *models.Model, md map[string]string, norm cifar10.Normalization, data func() (*cifar10.Dataset, error)) (cifar10.Stats, error) {
	explicit := given(w.fs)["norm"]
	stats, err := weights.InputNormalization(w.source(), md)
	switch {
	case err == nil:
		if explicit && norm != stats.Normalization {
			return stats, errors.Errorf("-norm %s: %s records %s normalization", norm, w.source(), stats.Normalization)
		}
		return stats, nil
	case !errors.Is(err, weights.ErrNoNormalization):
		return stats, err
	case !explicit:
		return stats, errors.Errorf("%v; or choose one with -norm per-pixel-mean or -norm per-channel", err)
	case !m.CIFAR():
		if norm != cifar10.PerChannel {
			return stats, errors.Errorf("-norm %s: an ImageNet model takes per-channel (ImageNet's mean and std)", norm)
		}
		return predict.ImageNetStats(), nil
	}
	ds, err := data()
	if err != nil {
		return stats, err
	}
	return cifar10.ComputeStats(ds.Train, norm)
}

// classify prints the top-5 classes of each image, as text or JSON lines.
func classify(e env, w *weightsFlags, images []string, norm cifar10.Normalization, data func() (*cifar10.Dataset, error), maxPixels int, asJSON bool) error {
	m, md, err := w.load(e.stderr)
	if err != nil {
		return err
	}
	stats, err := inputNormalization(w, m, md, norm, data)
	if err != nil {
		return err
	}
	cfg, err := predict.ConfigFor(m, stats)
	if err != nil {
		return err
	}
	cfg.MaxPixels = maxPixels
	results, err := predict.Top5(m, images, cfg)
	if err != nil {
		return err
	}
	for _, r := range results {
		if asJSON {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, string(b))
		} else {
			fmt.Fprintln(e.stdout, r)
		}
	}
	return nil
}
