package train

import (
	"context"
	"os"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
)

// tiny is a configuration that trains in seconds.
func tiny(iters int) Config {
	c := Paper("resnet20")
	c.Iters, c.BatchSize, c.EvalBatch = iters, 8, 32
	c.Milestones = []int{iters / 2}
	c.TrainLimit, c.EvalLimit = 64, 32
	c.EvalEvery, c.LogEvery, c.CkptEvery = 2, 1, 2
	return c
}

func runTiny(t *testing.T, cfg Config, ds *cifar10.Dataset, dir string) *Result {
	t.Helper()
	tr, err := New(cfg, ds, dir, Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
