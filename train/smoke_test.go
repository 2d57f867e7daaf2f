package train

import (
	"path/filepath"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	ds := synthetic(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	start := time.Now()
	r := runTiny(t, tiny(6), ds, dir)
	t.Logf("%+v in %v", r, time.Since(start))
	for _, f := range []string{ConfigFile, MetricsFile, CheckpointFile, CurvesFile, ResultFile} {
		if !exists(filepath.Join(dir, f)) {
			t.Errorf("no %s", f)
		}
	}
}
