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
	norm := f.cfg.Normalization
	if md["normalization"] != "" {
		if err := norm.UnmarshalText([]byte(md["normalization"])); err != nil {
			return errors.Wrap(err, f.weights)
		}
	}
	stats, err := cifar10.ComputeStats(ds.Train, norm)
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
	fmt.Fprintf(stdout, "%s on %d test images (%s normalization): test loss %.4f, test error %.2f%%\n", m.Name(), test.Len(), norm, loss, 100*errRate)
	return nil
}

// classify is -predict IMAGE...: the top-5 classes of each image.
func classify(f *flags, set map[string]bool, images []string, stdout io.Writer) error {
	if len(images) == 0 {
		return usageError{errors.New("-predict: name one or more PNG or JPEG files after the flags")}
	}
	m, md, err := loadWeights(f, set)
	if err != nil {
		return err
	}
	cfg, err := predict.ConfigFor(m, md)
	if err != nil {
		return err
	}
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
