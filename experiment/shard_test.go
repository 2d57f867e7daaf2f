package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorgonia-zoo/resnet/internal/synthetic"
	"github.com/gorgonia-zoo/resnet/train"
)

// shardEnv tells TestShardHelper, run as a subprocess, what to run:
// "DIR SHARD", e.g. "/tmp/x/sweep 1/3".
const shardEnv = "EXPERIMENT_TEST_SHARD"

// shardSweep is a three-run sweep that trains in seconds.
func shardSweep() *Sweep {
	s := &Sweep{Preset: "shard-test"}
	for _, m := range []string{"plain20", "resnet20", "resnet32"} {
		c := tiny(m)
		c.Iters, c.Milestones, c.CkptEvery = 12, []int{8}, 2
		s.Runs = append(s.Runs, c)
	}
	return s
}

// TestShardHelper is the subprocess of the shard tests: one shard of
// shardSweep, as a cluster job would run it.
func TestShardHelper(t *testing.T) {
	v := os.Getenv(shardEnv)
	if v == "" {
		t.Skip("subprocess of the shard tests only")
	}
	dir, spec, _ := strings.Cut(v, " ")
	sh, err := ParseShard(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunSweep(context.Background(), shardSweep(), synthetic.CIFAR10(64, 32), dir, sh, train.Output{}); err != nil {
		t.Fatal(err)
	}
}

func startShard(t *testing.T, dir, spec string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestShardHelper$")
	cmd.Env = append(os.Environ(), shardEnv+"="+dir+" "+spec)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shard %s said:\n%s", spec, out.String())
		}
	})
	return cmd
}

// sequential runs shardSweep in one process, uninterrupted.
func sequential(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sequential")
	if _, err := RunSweep(context.Background(), shardSweep(), synthetic.CIFAR10(64, 32), dir, Shard{}, train.Output{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// assertSameSweep checks that two finished sweeps of shardSweep hold the
// same weights, metrics and results, bit for bit, timings aside.
func assertSameSweep(t *testing.T, want, got string) {
	t.Helper()
	for _, c := range shardSweep().Runs {
		for _, f := range []string{train.WeightsFile, train.CheckpointFile} {
			a, errA := os.ReadFile(filepath.Join(want, c.Model, f))
			b, errB := os.ReadFile(filepath.Join(got, c.Model, f))
			if f == train.CheckpointFile {
				// The checkpoint's metadata records the elapsed time.
				a, b = tensorsOf(t, a), tensorsOf(t, b)
			}
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				t.Errorf("%s/%s differs (%v, %v)", c.Model, f, errA, errB)
			}
		}
		pa, errA := train.ReadMetrics(filepath.Join(want, c.Model, train.MetricsFile))
		pb, errB := train.ReadMetrics(filepath.Join(got, c.Model, train.MetricsFile))
		if errA != nil || errB != nil || len(pa) != len(pb) || len(pa) == 0 {
			t.Fatalf("%s metrics: %d and %d points (%v, %v)", c.Model, len(pa), len(pb), errA, errB)
		}
		for i := range pa {
			pa[i].ImgPerS, pa[i].ElapsedS, pb[i].ImgPerS, pb[i].ElapsedS = 0, 0, 0, 0
			if !reflect.DeepEqual(pa[i], pb[i]) {
				t.Errorf("%s metrics point %d: %+v, want %+v", c.Model, i, pb[i], pa[i])
			}
		}
	}
	var ra, rb []train.Result
	for dir, rs := range map[string]*[]train.Result{want: &ra, got: &rb} {
		b, err := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
		if err != nil || json.Unmarshal(b, rs) != nil {
			t.Fatalf("%s: no summary: %v", dir, err)
		}
		for i := range *rs {
			(*rs)[i].WallS = 0
		}
	}
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("summary.json: %+v, want %+v", rb, ra)
	}
}

// tensorsOf returns the tensor bytes of a safetensors file, its header
// (and so its metadata) left out.
func tensorsOf(t *testing.T, file []byte) []byte {
	t.Helper()
	if len(file) < 8 {
		return nil
	}
	n := int(file[0]) | int(file[1])<<8 | int(file[2])<<16 | int(file[3])<<24
	return file[8+n:]
}

// TestShardsEqualOneProcess runs the three shards of a sweep as concurrent
// processes on one sweep directory and checks that they end with exactly
// the results of one sequential process.
func TestShardsEqualOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a sweep twice")
	}
	want := sequential(t)
	dir := filepath.Join(t.TempDir(), "sharded")
	var cmds []*exec.Cmd
	for _, spec := range []string{"0/3", "1/3", "2/3"} {
		cmds = append(cmds, startShard(t, dir, spec))
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %v: %v", cmd.Env[len(cmd.Env)-1], err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryJSONFile)); err != nil {
		t.Fatalf("the last shard did not gather the sweep: %v", err)
	}
	assertSameSweep(t, want, dir)
}

// TestKilledShardResumes kills (SIGKILL) a shard in the middle of a run;
// run again, it resumes from the checkpoint and ends with the results of
// an uninterrupted sweep.
func TestKilledShardResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a sweep twice")
	}
	want := sequential(t)
	dir := filepath.Join(t.TempDir(), "killed")
	cmd := startShard(t, dir, "0/1")
	metrics := filepath.Join(dir, "resnet20", train.MetricsFile)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pts, _ := train.ReadMetrics(metrics)
		if len(pts) >= 5 {
			break // mid-run: past two checkpoints of resnet20, the second run
		}
		if time.Now().After(deadline) {
			t.Fatal("the shard did not reach resnet20's fifth iteration")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "resnet20", train.ResultFile)); err == nil {
		t.Fatal("the kill came too late: resnet20 had finished")
	}
	if _, err := RunSweep(context.Background(), nil, synthetic.CIFAR10(64, 32), dir, Shard{}, train.Output{}); err != nil {
		t.Fatalf("the sweep does not continue after the kill: %v", err)
	}
	assertSameSweep(t, want, dir)
}

func TestParseShard(t *testing.T) {
	if sh, err := ParseShard("2/9"); err != nil || sh != (Shard{2, 9}) {
		t.Errorf("2/9: %+v, %v", sh, err)
	}
	for _, bad := range []string{"", "3", "9/9", "-1/3", "1/0", "a/b", "1/3/4"} {
		if _, err := ParseShard(bad); err == nil || !strings.Contains(err.Error(), "want I/N") {
			t.Errorf("%q: got %v, want an error", bad, err)
		}
	}
}
