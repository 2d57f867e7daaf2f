package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
)

// synthetic returns a small learnable data set: each class has its own
// colour plus noise.
func synthetic(nTrain, nTest int) *cifar10.Dataset {
	mk := func(n int, salt uint64) *cifar10.Set {
		s := &cifar10.Set{Pixels: make([]byte, n*cifar10.ImageLen), Labels: make([]uint8, n)}
		h := salt
		for i := 0; i < n; i++ {
			l := uint8(i % cifar10.NumClasses)
			s.Labels[i] = l
			img := s.Image(i)
			for j := range img {
				h = h*6364136223846793005 + 1442695040888963407
				base := 40 + 20*int(l)*(1+j/cifar10.PlaneLen)%200
				img[j] = byte(base + int(h>>58))
			}
		}
		return s
	}
	return &cifar10.Dataset{Train: mk(nTrain, 1), Test: mk(nTest, 2)}
}

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
