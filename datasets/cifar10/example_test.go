package cifar10_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
)

// writeTinyDataset writes a data set in the official layout with 4 images in
// each training batch file and 3 test images, so the example runs anywhere.
func writeTinyDataset(dir string) error {
	write := func(name string, records, first int) error {
		var data []byte
		for i := range records {
			label := byte((first + i) % cifar10.NumClasses)
			data = append(data, label)
			for p := range cifar10.ImageLen {
				data = append(data, byte(p*(first+i+1)))
			}
		}
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	for b := 1; b <= 5; b++ {
		if err := write(fmt.Sprintf("data_batch_%d.bin", b), 4, 4*(b-1)); err != nil {
			return err
		}
	}
	if err := write("test_batch.bin", 3, 0); err != nil {
		return err
	}
	meta := strings.Join(cifar10.ClassNames[:], "\n") + "\n"
	return os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte(meta), 0o644)
}

func ExampleNewTrainIterator() {
	dir, err := os.MkdirTemp("", "cifar10-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := writeTinyDataset(dir); err != nil {
		log.Fatal(err)
	}

	// A trainer would call cifar10.Ensure(ctx, *dataFlag, &cifar10.Downloader{Progress: os.Stderr})
	// to find or download the data, then Load the path it returns.
	data, err := cifar10.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	train, val, err := data.Train.Split(4, 1) // the paper holds out 5,000
	if err != nil {
		log.Fatal(err)
	}
	stats, err := cifar10.ComputeStats(train, cifar10.PerPixelMean) // save these with the weights
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d training, %d validation, %d test images\n", train.Len(), val.Len(), data.Test.Len())

	// Resume after 3 iterations of batches of 6: epoch 0 holds 2 whole
	// batches of the 16 images, so this starts at epoch 1, batch 1.
	it, err := cifar10.NewTrainIterator(train, stats, cifar10.TrainOptions{
		BatchSize: 6, Seed: 7, StartBatch: 3, Workers: 2,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for range 3 {
		b, _ := it.Next()
		fmt.Printf("iteration %d: epoch %d batch %d, %d floats, labels %v\n", b.Iteration, b.Epoch, b.Index, len(b.Images), b.Labels)
		b.Release()
	}

	eval, err := cifar10.NewEvalIterator(data.Test, stats, cifar10.EvalOptions{BatchSize: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer eval.Close()
	for b, ok := eval.Next(); ok; b, ok = eval.Next() {
		fmt.Printf("test batch %d: size %d, labels %v\n", b.Index, b.Size, b.Labels)
		b.Release()
	}
	// Output:
	// 16 training, 4 validation, 3 test images
	// iteration 3: epoch 1 batch 1, 18432 floats, labels [7 5 4 3 9 6]
	// iteration 4: epoch 2 batch 0, 18432 floats, labels [3 7 0 6 7 5]
	// iteration 5: epoch 2 batch 1, 18432 floats, labels [1 9 4 2 6 0]
	// test batch 0: size 2, labels [0 1]
	// test batch 1: size 1, labels [2]
}
