package predict_test

import (
	"fmt"
	"image"
	"log"

	"github.com/gorgonia-zoo/resnet/predict"
)

func ExamplePreprocess() {
	// A 32x32 mid-gray image, as a CIFAR model sees it.
	img := image.NewGray(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	x, err := predict.Preprocess(img, predict.CIFARConfig())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d values, R %.4f G %.4f B %.4f\n", len(x), x[0], x[32*32], x[2*32*32])

	white := image.NewGray(image.Rect(0, 0, 2, 2))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	x, err = predict.Preprocess(white, predict.Config{Std: [3]float64{1, 1, 1}})
	fmt.Println(len(x), x[0], err)
	// ImageNet models: shorter side to 256, center crop 224.
	wide := image.NewRGBA(image.Rect(0, 0, 400, 300))
	x, err = predict.Preprocess(wide, predict.ImageNetConfig())
	fmt.Println(len(x) == 3*224*224, err)
	// Output:
	// 3072 values, R 0.0428 G 0.0812 B 0.2120
	// 12 1 <nil>
	// true <nil>
}
