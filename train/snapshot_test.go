package train

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/synthetic"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
)

// TestReadSnapshot: a finished run's snapshot is its final weights, bit
// for bit, with its normalization; a fresh run's is iteration 0,
// unfinished; a directory that is no run is an error naming it.
func TestReadSnapshot(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	runTiny(t, tiny(4), ds, dir)
	s, err := ReadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iter != 4 || !s.Finished() || s.Model.Name() != "resnet20" || s.Info.Config.Iters != 4 {
		t.Errorf("snapshot at iteration %d (finished %v) of %s", s.Iter, s.Finished(), s.Model.Name())
	}
	final, err := safetensors.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := weights.Encode(s.Model.State(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tensors) != len(final.Tensors) {
		t.Fatalf("%d tensors, the final weights %d", len(got.Tensors), len(final.Tensors))
	}
	for _, tt := range got.Tensors {
		if w, ok := final.Get(tt.Name); !ok || w.DType != tt.DType || !bytes.Equal(tt.Data, w.Data) {
			t.Errorf("%s differs from the final weights'", tt.Name)
		}
	}
	stats, err := weights.InputNormalization(WeightsFile, final.Metadata)
	if err != nil || !reflect.DeepEqual(stats, s.Stats) {
		t.Errorf("normalization %v, the final weights' %v (%v)", s.Stats.Normalization, stats.Normalization, err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	tr, err := New(tiny(4), ds, fresh, Output{})
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if s, err := ReadSnapshot(fresh); err != nil || s.Iter != 0 || s.Finished() {
		t.Errorf("fresh run: %+v, %v", s, err)
	}
	if _, err := ReadSnapshot(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("an empty directory: %v", err)
	}
}
