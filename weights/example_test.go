package weights_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

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
	err = weights.Save(path, trained, map[string]string{
		weights.KeyNormalizeMean: "0.4914,0.4822,0.4465",
		weights.KeyNormalizeStd:  "0.2470,0.2435,0.2616",
	})
	if err != nil {
		log.Fatal(err)
	}

	// Evaluate: build the model the file describes.
	m, report, err := weights.LoadModel(path, models.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name(), len(report.Loaded), "tensors, normalized with mean", report.Metadata[weights.KeyNormalizeMean])

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
	// resnet20 116 tensors, normalized with mean 0.4914,0.4822,0.4465
	// skipped [fc.bias fc.weight]
	// true
}
