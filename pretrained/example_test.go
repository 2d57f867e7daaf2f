package pretrained_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/gorgonia-zoo/resnet/predict"
	"github.com/gorgonia-zoo/resnet/pretrained"
)

// Classify an image with the shipped ResNet-20, as `train predict cat.png`
// does. (Not run as a test: its output depends on the shipped file.)
func Example() {
	e, err := pretrained.Lookup("resnet20")
	if err != nil {
		log.Fatal(err) // wraps pretrained.ErrNotShipped when there are none
	}
	fmt.Printf("%s: %d iterations, test error %.2f%% (%s, sha256 %s)\n",
		e.Model, e.Iterations, 100*e.TestError, e.Path, e.SHA256)
	m, err := e.Load()
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := predict.ConfigFor(m, e.Normalization)
	if err != nil {
		log.Fatal(err)
	}
	results, err := predict.Top5(m, []string{"cat.png"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(results[0]) // the image, then its five most probable classes and their probabilities
}

// A model without shipped weights: its weights come from a file instead.
func ExampleLookup() {
	_, err := pretrained.Lookup("resnet152")
	fmt.Println(errors.Is(err, pretrained.ErrNotShipped))
	fmt.Println(err)
	// Output:
	// true
	// pretrained: no shipped weights for resnet152; load a weights file instead (weights.LoadModel)
}
