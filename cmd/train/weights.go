package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/predict"
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
	norm := cifar10.PerPixelMean
	if md["normalization"] == "per-channel" || (md["normalization"] == "" && f.cfg.Normalization == "per-channel") {
		norm = cifar10.PerChannel
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
	it, err := cifar10.NewEvalIterator(test, stats, cifar10.EvalOptions{BatchSize: inf.Batch()})
	if err != nil {
		return err
	}
	defer it.Close()
	var loss float64
	var wrong int
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		copy(inf.Input(), b.Images[:cap(b.Images)])
		logits, err := inf.Run()
		if err != nil {
			b.Release()
			return err
		}
		k := inf.Classes()
		for i := 0; i < b.Size; i++ {
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
			loss += top + math.Log(s) - float64(z[b.Labels[i]])
			if arg != b.Labels[i] {
				wrong++
			}
		}
		b.Release()
	}
	n := float64(test.Len())
	fmt.Fprintf(stdout, "%s on %d test images (%s normalization): test loss %.4f, test error %.2f%%\n", m.Name(), test.Len(), norm, loss/n, 100*float64(wrong)/n)
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
