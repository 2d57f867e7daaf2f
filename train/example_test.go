package train_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/train"
)

// A few iterations of ResNet-20 on a tiny synthetic data set. Real runs
// take the data from cifar10.Load and keep the paper's defaults.
func Example() {
	ds := &cifar10.Dataset{Train: fake(64), Test: fake(16)}
	cfg := train.Paper("resnet20")
	cfg.Iters, cfg.BatchSize, cfg.Milestones = 4, 8, []int{2}
	cfg.EvalEvery, cfg.LogEvery, cfg.CkptEvery, cfg.EvalBatch = 2, 2, 2, 16

	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t, err := train.New(cfg, ds, filepath.Join(dir, "run"), train.Output{})
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	r, err := t.Run(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("iterations:", r.Iters, "parameters:", r.Params)
	for _, p := range t.Points() {
		fmt.Printf("iter %d lr %g evaluated %v\n", p.Iter, p.LR, p.TestErr != nil)
	}
	for _, f := range []string{train.ConfigFile, train.MetricsFile, train.CheckpointFile, train.ResultFile, train.WeightsFile} {
		_, err := os.Stat(filepath.Join(dir, "run", f))
		fmt.Println(f, err == nil)
	}
	// Output:
	// iterations: 4 parameters: 269722
	// iter 2 lr 0.1 evaluated true
	// iter 4 lr 0.01 evaluated true
	// config.json true
	// metrics.jsonl true
	// checkpoint.safetensors true
	// result.json true
	// weights.safetensors true
}

// fake returns n images of random-looking pixels with labels 0..9.
func fake(n int) *cifar10.Set {
	s := &cifar10.Set{Pixels: make([]byte, n*cifar10.ImageLen), Labels: make([]uint8, n)}
	x := uint32(1)
	for i := range s.Pixels {
		x = x*1664525 + 1013904223
		s.Pixels[i] = byte(x >> 24)
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % cifar10.NumClasses)
	}
	return s
}
