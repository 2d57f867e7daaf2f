package train

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gorgonia-zoo/resnet/internal/synthetic"
)

func TestSmoke(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	start := time.Now()
	r := runTiny(t, tiny(6), ds, dir)
	t.Logf("%+v in %v", r, time.Since(start))
	for _, f := range []string{ConfigFile, MetricsFile, CheckpointFile, ResultFile, WeightsFile} {
		if !exists(filepath.Join(dir, f)) {
			t.Errorf("no %s", f)
		}
	}
}
