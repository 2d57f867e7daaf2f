package train

import (
	"context"
	"os"
	"path/filepath"
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

// repoRoot walks up to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if exists(filepath.Join(dir, "go.mod")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
