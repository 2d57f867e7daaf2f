package weights_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/weights"
)

func Example() {
	dir, err := os.MkdirTemp("", "weights-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "resnet20.safetensors")

	trained, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	// Record how training normalized its inputs (cifar10.ComputeStats).
	norm, err := weights.NormalizationMetadata(cifar10.Stats{
		Normalization: cifar10.PerChannel,
		Mean:          []float32{0.4914, 0.4822, 0.4465},
		Std:           []float32{0.247, 0.2435, 0.2616},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := weights.Save(path, trained, norm); err != nil {
		log.Fatal(err)
	}

	// Evaluate or predict: build the model the file describes and
	// normalize inputs as its metadata says.
	m, report, err := weights.LoadModel(path, models.Options{})
	if err != nil {
		log.Fatal(err)
	}
	stats, err := weights.InputNormalization(path, report.Metadata)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name(), len(report.Loaded), "tensors,", stats.Normalization, "normalization, mean", stats.Mean)

	// Fine-tune on 100 classes: everything but the classifier.
	cifar100, err := models.New("resnet20", models.Options{NumClasses: 100})
	if err != nil {
		log.Fatal(err)
	}
	report, err = weights.InitFrom(path, cifar100, weights.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("skipped", report.Skipped)

	// A strict load of a file that does not fit lists every mismatch.
	_, err = weights.Load(path, cifar100, weights.LoadOptions{})
	fmt.Println(err != nil)
	// Output:
	// resnet20 116 tensors, per-channel normalization, mean [0.4914 0.4822 0.4465]
	// skipped [fc.bias fc.weight]
	// true
}
