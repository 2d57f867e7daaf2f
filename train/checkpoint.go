package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// MomentumPrefix starts the names of the optimizer's momentum buffers in a
// checkpoint: "optimizer.momentum.layer1.0.conv1.weight".
const MomentumPrefix = "optimizer.momentum."

// Checkpoint metadata keys. Batches are a pure function of (seed,
// iteration), so the seed in the config and the iteration are the whole
// data-order state; the trainer has no other random source.
const (
	MetaIteration = "iteration"
	MetaConfig    = "config"
	MetaStats     = "normalization_stats"
)

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// checkpointFile returns the checkpoint's content: the model's State as
// weights.Encode writes it (torchvision's names, num_batches_tracked as
// I64), the momentum buffers and the metadata.
func (t *Trainer) checkpointFile() (*safetensors.File, error) {
	cfg, _ := json.Marshal(t.cfg)
	stats, _ := json.Marshal(t.stats)
	m := map[string]string{
		"format":            "pt",
		"model":             t.cfg.Model,
		MetaIteration:       strconv.Itoa(t.iter),
		"seed":              strconv.FormatInt(t.cfg.Seed, 10),
		MetaConfig:          string(cfg),
		MetaStats:           string(stats),
		"optimizer.started": strconv.FormatBool(t.step.Opt.Started),
		"warmup.active":     strconv.FormatBool(t.warmup),
		"warmup.seen":       strconv.FormatBool(t.warmSeen),
		"warmup.ema":        fmtFloat(t.warmEMA),
		"window.loss":       fmtFloat(t.winLoss),
		"window.err":        fmtFloat(t.winErr),
		"window.n":          strconv.Itoa(t.winN),
		"elapsed_s":         fmtFloat(t.elapsedNow()),
	}
	f, err := weights.Encode(t.model.State(), m)
	if err != nil {
		return nil, errors.Wrap(err, "checkpoint")
	}
	for i, n := range t.step.Names {
		e, _ := t.model.State().Get(n)
		f.Tensors = append(f.Tensors, safetensors.FromFloat32(MomentumPrefix+n, []int(e.Value.Shape()), t.step.Opt.Bufs[i]))
	}
	return f, nil
}

// checkpoint writes the checkpoint atomically, refusing non-finite weights
// so the last good checkpoint survives a diverging run.
func (t *Trainer) checkpoint() error {
	for i, w := range t.step.Weights {
		for _, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errors.Wrapf(ErrDiverged, "%s: %s holds %v at iteration %d; the previous checkpoint is kept", t.cfg.Model, t.step.Names[i], v, t.iter)
			}
		}
	}
	f, err := t.checkpointFile()
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(t.dir, CheckpointFile), f); err != nil {
		return errors.Wrap(err, "checkpoint")
	}
	t.lastCkpt = t.iter
	return nil
}

// loadCheckpoint restores everything checkpointFile saved.
func (t *Trainer) loadCheckpoint(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return errors.Wrap(err, "checkpoint")
	}
	opts := weights.LoadOptions{SkipPrefixes: []string{MomentumPrefix}}
	if _, err := weights.LoadState(t.model.State(), f, opts); err != nil {
		return errors.Wrap(err, path)
	}
	for i, n := range t.step.Names {
		tt, ok := f.Get(MomentumPrefix + n)
		if !ok {
			return errors.Errorf("%s: no %s", path, MomentumPrefix+n)
		}
		v, err := tt.Float32s()
		if err != nil || len(v) != len(t.step.Opt.Bufs[i]) {
			return errors.Errorf("%s: %s does not fit (%v)", path, MomentumPrefix+n, err)
		}
		copy(t.step.Opt.Bufs[i], v)
	}
	m := f.Metadata
	var errs []error
	geti := func(k string) int {
		v, err := strconv.Atoi(m[k])
		errs = append(errs, errors.Wrap(err, k))
		return v
	}
	getf := func(k string) float64 {
		v, err := strconv.ParseFloat(m[k], 64)
		errs = append(errs, errors.Wrap(err, k))
		return v
	}
	getb := func(k string) bool {
		v, err := strconv.ParseBool(m[k])
		errs = append(errs, errors.Wrap(err, k))
		return v
	}
	t.iter = geti(MetaIteration)
	t.step.Opt.Started = getb("optimizer.started")
	t.warmup, t.warmSeen, t.warmEMA = getb("warmup.active"), getb("warmup.seen"), getf("warmup.ema")
	t.winLoss, t.winErr, t.winN = getf("window.loss"), getf("window.err"), geti("window.n")
	t.elapsed = getf("elapsed_s")
	for _, e := range errs {
		if e != nil {
			return errors.Wrapf(e, "%s: metadata", path)
		}
	}
	if m["seed"] != strconv.FormatInt(t.cfg.Seed, 10) || m["model"] != t.cfg.Model {
		return errors.Errorf("%s: checkpoint of %s seed %s, but the run's config says %s seed %d", path, m["model"], m["seed"], t.cfg.Model, t.cfg.Seed)
	}
	t.lastCkpt = t.iter
	return nil
}

// appendPoint logs a point to metrics.jsonl and keeps it.
func (t *Trainer) appendPoint(p Point) error {
	t.points = append(t.points, p)
	b, err := json.Marshal(p)
	if err != nil {
		return errors.Wrap(err, "metrics")
	}
	f, err := os.OpenFile(filepath.Join(t.dir, MetricsFile), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return errors.Wrap(err, "metrics")
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return errors.Wrap(err, "metrics")
}

// ReadMetrics reads a metrics.jsonl file.
func ReadMetrics(path string) ([]Point, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "metrics")
	}
	var pts []Point
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var p Point
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			// A line cut short by a kill is the last one: drop it.
			break
		}
		pts = append(pts, p)
	}
	return pts, nil
}

// loadMetrics reads metrics.jsonl, keeps the points up to the checkpoint's
// iteration and rewrites the file with them.
func (t *Trainer) loadMetrics() error {
	path := filepath.Join(t.dir, MetricsFile)
	pts, err := ReadMetrics(path)
	if err != nil && !os.IsNotExist(errors.Cause(err)) {
		return err
	}
	var buf bytes.Buffer
	t.points = t.points[:0]
	for _, p := range pts {
		if p.Iter > t.iter {
			break
		}
		t.points = append(t.points, p)
		b, _ := json.Marshal(p)
		buf.Write(append(b, '\n'))
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
