package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/predict"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// loadWeights builds the model a weights file describes (its "model"
// metadata), or the -model one for files without it, and loads the file.
func loadWeights(f *flags, set map[string]bool) (*models.Model, map[string]string, error) {
	md, err := weights.ReadMetadata(f.weights)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "-weights")
	}
	opts := weights.LoadOptions{NonStrict: !f.strict}
	name := md[weights.KeyModel]
	if name != "" && set["model"] && name != f.cfg.Model {
		return nil, nil, usageError{errors.Errorf("-model %s: %s holds %s weights", f.cfg.Model, f.weights, name)}
	}
	if name != "" && f.strict {
		m, _, err := weights.LoadModel(f.weights, models.Options{})
		return m, md, errors.WithMessage(err, "-weights")
	}
	if name == "" {
		name = f.cfg.Model
	}
	m, err := models.New(name, models.Options{})
	if err != nil {
		return nil, nil, usageError{errors.Wrap(err, "-model")}
	}
	r, err := weights.Load(f.weights, m, opts)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "-weights")
	}
	if len(r.Mismatches) > 0 {
		fmt.Fprintf(os.Stderr, "-strict=false: %s\n", r)
	}
	return m, md, nil
}

// evaluate is -eval -weights FILE: the test loss and error of the weights.
func evaluate(ctx context.Context, f *flags, set map[string]bool, stdout, stderr io.Writer) error {
	m, md, err := loadWeights(f, set)
	if err != nil {
		return err
	}
	if !m.CIFAR() {
		return usageError{errors.Errorf("-eval: %s is an ImageNet model; -eval measures the CIFAR-10 test set", m.Name())}
	}
	ds, err := loadData(ctx, &f.data, stderr)
	if err != nil {
		return err
	}
	stats, err := inputNormalization(f, set, m, md, func() (*cifar10.Dataset, error) { return ds, nil })
	if err != nil {
		return err
	}
	test := ds.Test
	if f.cfg.EvalLimit > 0 && f.cfg.EvalLimit < test.Len() {
		test = test.Head(f.cfg.EvalLimit)
	}
	inf, err := models.NewInference(m, min(200, test.Len()))
	if err != nil {
		return err
	}
	defer inf.Close()
	loss, errRate, err := train.Evaluate(inf, test, stats, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %d test images (%s normalization): test loss %.4f, test error %.2f%%\n", m.Name(), test.Len(), stats.Normalization, loss, 100*errRate)
	return nil
}

// inputNormalization is the normalization eval and predict apply to the
// weights' inputs: the one the file records (weights.InputNormalization),
// or, only for a file that records none, the explicit -norm: statistics of
// the CIFAR-10 training set (loaded by data) or ImageNet's mean and std.
func inputNormalization(f *flags, set map[string]bool, m *models.Model, md map[string]string, data func() (*cifar10.Dataset, error)) (cifar10.Stats, error) {
	stats, err := weights.InputNormalization(f.weights, md)
	switch {
	case err == nil:
		if set["norm"] && f.cfg.Normalization != stats.Normalization {
			return stats, usageError{errors.Errorf("-norm %s: %s records %s normalization", f.cfg.Normalization, f.weights, stats.Normalization)}
		}
		return stats, nil
	case !errors.Is(err, weights.ErrNoNormalization):
		return stats, err
	case !set["norm"]:
		return stats, usageError{errors.WithMessage(err, "give -norm per-pixel-mean or -norm per-channel to choose one")}
	case !m.CIFAR():
		if f.cfg.Normalization != cifar10.PerChannel {
			return stats, usageError{errors.Errorf("-norm %s: an ImageNet model takes per-channel (ImageNet's mean and std)", f.cfg.Normalization)}
		}
		return predict.ImageNetStats(), nil
	}
	ds, err := data()
	if err != nil {
		return stats, err
	}
	return cifar10.ComputeStats(ds.Train, f.cfg.Normalization)
}

// classify is -predict IMAGE...: the top-5 classes of each image.
func classify(ctx context.Context, f *flags, set map[string]bool, images []string, stdout, stderr io.Writer) error {
	if len(images) == 0 {
		return usageError{errors.New("-predict: name one or more PNG or JPEG files after the flags")}
	}
	m, md, err := loadWeights(f, set)
	if err != nil {
		return err
	}
	stats, err := inputNormalization(f, set, m, md, func() (*cifar10.Dataset, error) { return loadData(ctx, &f.data, stderr) })
	if err != nil {
		return err
	}
	cfg, err := predict.ConfigFor(m, stats)
	if err != nil {
		return err
	}
	cfg.MaxPixels = f.maxPixels
	results, err := predict.Top5(m, images, cfg)
	if err != nil {
		return err
	}
	for _, r := range results {
		if f.json {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintln(stdout, r)
		}
	}
	return nil
}
