package train

import (
	"path/filepath"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/internal/synthetic"
)

// BenchmarkStep compares a whole trainer step (batch copy, one-hot targets,
// forward, backward, loss and error, SGD, zeroing the gradients) of
// ResNet-20 at batch 128 with the graph's RunAll+Reset alone: the
// difference is the trainer's overhead.
func BenchmarkStep(b *testing.B) {
	ds := synthetic.CIFAR10(256, 32)
	cfg := Paper("resnet20")
	cfg.EvalLimit = 32
	tr, err := New(cfg, ds, filepath.Join(b.TempDir(), "run"), Output{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	it, err := cifar10.NewTrainIterator(tr.train, tr.stats, cifar10.TrainOptions{BatchSize: cfg.BatchSize, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	batch, _ := it.Next()
	defer batch.Release()
	b.Run("graph", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := tr.step.vm.RunAll(); err != nil {
				b.Fatal(err)
			}
			tr.step.vm.Reset()
		}
	})
	b.Run("trainer", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := tr.runStep(batch, 0.1, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
