// Command gobatch prints a digest of the Go trainer's first training batches
// (cifar10.NewTrainIterator, per-pixel mean), one JSON line per batch, for
// scripts/twin/check_data_rng.py to compare with train_twin.py --data-rng go.
// It lives under testdata so that ./... patterns skip it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
)

func main() {
	data := flag.String("data", "", "CIFAR-10 archive or extracted directory (default: $"+cifar10.EnvVar+", else the cache directory, downloading when missing)")
	limit := flag.Int("train-limit", 512, "images")
	batch := flag.Int("batch", 32, "batch size")
	seed := flag.Uint64("seed", 1, "seed")
	n := flag.Int("n", 20, "batches")
	flag.Parse()
	path, err := cifar10.Ensure(context.Background(), *data, &cifar10.Downloader{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ds, err := cifar10.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	set := ds.Train.Head(*limit)
	st, err := cifar10.ComputeStats(set, cifar10.PerPixelMean)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	it, err := cifar10.NewTrainIterator(set, st, cifar10.TrainOptions{BatchSize: *batch, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer it.Close()
	for i := 0; i < *n; i++ {
		b, _ := it.Next()
		var sum float64
		for _, v := range b.Images {
			sum += float64(v)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"labels": b.Labels, "sum": sum, "first": b.Images[:8], "px1000": b.Images[1000]})
		b.Release()
	}
}
