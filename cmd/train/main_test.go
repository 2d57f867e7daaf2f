package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/experiment"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/gorgonia-zoo/resnet/weights"
)

// mainArgsEnv makes the test binary run main with these arguments (a JSON
// list) instead of the tests: the signal test's subprocess.
const mainArgsEnv = "TRAIN_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(mainArgsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"train"}, args...)
		main()
	}
	os.Exit(m.Run())
}

// execute runs a command line in process as main would, on ctx, and returns
// the exit status, stdout and stderr.
func execute(ctx context.Context, stdout io.Writer, args ...string) (int, string) {
	var errb bytes.Buffer
	code := report(run(ctx, args, stdout, &errb, false), &errb)
	return code, errb.String()
}

// mustRun runs a command line that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if code, stderr := execute(context.Background(), &out, args...); code != 0 {
		t.Fatalf("train %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return out.String()
}

// records returns n CIFAR-10 records (a label byte, then 3072 pixel bytes)
// of ten classes whose pixels differ in brightness.
func records(file, n int) []byte {
	b := make([]byte, n*3073)
	x := uint32(file)
	for i := range n {
		b[i*3073] = byte(i % 10)
		for j := 1; j < 3073; j++ {
			x = x*1664525 + 1013904223
			b[i*3073+j] = byte(int(x>>26) + 20*(i%10))
		}
	}
	return b
}

// synthetic writes a small CIFAR-10 in the official binary layout, the
// extracted cifar-10-batches-bin directory, under a new temporary
// directory and returns that directory: perBatch images in each of the
// five training files, test in the test file.
func synthetic(t *testing.T, perBatch, test int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "elsewhere", "cifar-10-batches-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"batches.meta.txt": []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"),
		"test_batch.bin":   records(9, test),
	}
	for i := 1; i <= 5; i++ {
		files[fmt.Sprintf("data_batch_%d.bin", i)] = records(i, perBatch)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// archive returns the real CIFAR-10 archive of the project's machines when
// present (../shared/cifar10 beside the module), else writes a small
// synthetic one in the official layout.
func archive(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for !exists(filepath.Join(dir, "go.mod")) && filepath.Dir(dir) != dir {
		dir = filepath.Dir(dir)
	}
	real := filepath.Join(dir, "..", "shared", "cifar10", "cifar-10-binary.tar.gz")
	if exists(real) {
		return real
	}
	t.Logf("%s absent: using a synthetic archive", real)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	src := synthetic(t, 120, 200)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + e.Name(), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	path := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// tinyWeights writes a freshly initialized ResNet-20 as a weights file
// and a 32x32 PNG, and returns their paths.
func tinyWeights(t *testing.T) (weightsFile, pngFile string) {
	t.Helper()
	dir := t.TempDir()
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	md, err := weights.NormalizationMetadata(cifar10.Stats{Normalization: cifar10.PerChannel, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	weightsFile = filepath.Join(dir, "w.safetensors")
	if err := weights.Save(weightsFile, m, md); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	pngFile = filepath.Join(dir, "a.png")
	if err := os.WriteFile(pngFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return weightsFile, pngFile
}

// TestHelp: the command list names every command on one line; each
// command's help, asked either way, has its synopsis, a paragraph, its
// flags and examples, and goes to stdout with status 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}} {
		out := mustRun(t, args...)
		for _, c := range commands {
			if !strings.Contains(out, "\n\t"+fmt.Sprintf("%-8s  %s", c.name, c.short)+"\n") {
				t.Errorf("train %s: no line for %s in\n%s", args[0], c.name, out)
			}
		}
	}
	for _, c := range commands {
		fs := newFlagSet(c)
		c.setup(fs)
		want := "usage: " + c.synopsis(fs) + "\n\n" + strings.SplitN(c.long, "\n", 2)[0]
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}} {
			out := mustRun(t, args...)
			if !strings.HasPrefix(out, want) || !strings.Contains(out, "\n\nExamples:\n  train ") || hasFlags(fs) != strings.Contains(out, "\n\nFlags:\n  -") {
				t.Errorf("train %s:\n%s", strings.Join(args, " "), out)
			}
			flags, _, _ := strings.Cut(out, "\n\nExamples:")
			for _, f := range strings.Split(flags, "\n  -")[1:] {
				if strings.Count(f, "default") > 1 {
					t.Errorf("train %s: a default twice in -%s", strings.Join(args, " "), f)
				}
			}
		}
		// Every example is a command line the command accepts.
		for _, l := range strings.Split(c.example, "\n") {
			if _, _, err := parse(strings.Fields(l)[1:], io.Discard); err != nil {
				t.Errorf("%s example %q: %v", c.name, l, err)
			}
		}
	}
	// run's help lists only the CIFAR models; summary's every model.
	if out := mustRun(t, "help", "run"); strings.Contains(out, "resnet50") || !strings.Contains(out, "resnet1202") {
		t.Errorf("run's -model help lists the wrong models")
	}
	if out := mustRun(t, "summary", "-h"); !strings.Contains(out, "resnet50") {
		t.Errorf("summary's -model help misses the ImageNet models")
	}
}

// refused are values that parse but that a command refuses before it
// runs, for the flags where "x" parses.
var refused = map[string]string{
	"model": "resnet21", "schedule": "linear", "warmup": "maybe", "norm": "zscore", "milestones": "10,5",
	"iters": "0", "batch": "0", "lr": "-1", "momentum": "1", "wd": "-1", "gamma": "0", "warmup-lr": "0", "warmup-err": "2",
	"train-limit": "-1", "eval-limit": "-1", "eval-every": "-1", "eval-batch": "0", "log-every": "0", "ckpt-every": "-1",
	"workers": "-1", "epochs": "-1", "models": "resnet32", "names": "one", "shard": "9/9", "max-pixels": "0", "commit": "HEAD",
}

// judgedWhenRun are the flags any value of which parses; what they name is
// checked when the command runs (TestMissingPaths).
var judgedWhenRun = []string{"data", "init-from", "out", "weights", "dot"}

// TestBadFlagValues gives every flag of every command a bad value: "x"
// where that does not parse, else a value the command refuses (for resume,
// whose values the recorded run judges, only "x"). Each is a usage error
// of at most three lines that names the flag, with status 2. Every row
// of configFlags has a refused value, so every *train.FieldError Validate
// can return is translated into flag terms.
func TestBadFlagValues(t *testing.T) {
	w, img := tinyWeights(t)
	base := map[string][]string{
		"resume": {"DIR"}, "sweep": {"fig6-quick"}, "compare": {"a", "b"},
		"eval": {"-weights", w}, "predict": {"-weights", w, img}, "export": {"DIR", "-out", "x.safetensors"},
	}
	// The fields any value of which Validate accepts.
	anyValid := []string{"Seed", "ZeroInitResidual", "InitNonStrict", "Val", "Analyze"}
	for _, r := range configFlags {
		if _, ok := refused[r.name]; !ok && !slices.Contains(judgedWhenRun, r.name) && !slices.Contains(anyValid, r.field) {
			t.Errorf("-%s (Config.%s): no refused value to test", r.name, r.field)
		}
	}
	tried := 0
	for _, c := range commands {
		fs := newFlagSet(c)
		c.setup(fs)
		fs.VisitAll(func(f *flag.Flag) {
			var values []string
			probe := newFlagSet(c)
			c.setup(probe)
			if probe.Set(f.Name, "x") != nil {
				values = append(values, "x")
			}
			if v, ok := refused[f.Name]; ok && c.name != "resume" {
				values = append(values, v)
			}
			if len(values) == 0 && !slices.Contains(judgedWhenRun, f.Name) && c.name != "resume" {
				t.Errorf("%s -%s: no bad value to test", c.name, f.Name)
			}
			for _, v := range values {
				tried++
				args := append([]string{c.name, "-" + f.Name + "=" + v}, base[c.name]...)
				code, stderr := execute(context.Background(), io.Discard, args...)
				if code != exitUsage || strings.Count(stderr, "\n") > 3 || !strings.Contains(stderr, "-"+f.Name) ||
					!strings.HasSuffix(stderr, "run 'train help "+c.name+"' for usage\n") {
					t.Errorf("train %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
				}
			}
		})
	}
	t.Logf("%d bad values refused", tried)
	// Training takes only the CIFAR-10 models.
	if code, stderr := execute(context.Background(), io.Discard, "run", "-model", "resnet50"); code != exitUsage || !strings.Contains(stderr, "-model resnet50: want a CIFAR-10 model") {
		t.Errorf("run -model resnet50: exit %d\n%s", code, stderr)
	}
	// FieldErrors from the library (here Resume's) speak in flags too.
	err := flagError("resume", &train.FieldError{Field: "Milestones", Value: []int{10, 5}, Want: "increasing iterations > 0"})
	if err.Error() != "-milestones 10,5: want increasing iterations > 0" {
		t.Errorf("translated: %v", err)
	}
	if err := flagError("run", &train.FieldError{Field: "InitNonStrict", Value: true, Want: "x"}); err.Error() != "-strict false: want x" {
		t.Errorf("translated: %v", err)
	}
}

// TestFlagTable: every train.Config field has its flag, once.
func TestFlagTable(t *testing.T) {
	ct := reflect.TypeOf(train.Config{})
	seen := map[string]bool{}
	for _, r := range configFlags {
		if _, ok := ct.FieldByName(r.field); !ok || seen[r.field] || seen["-"+r.name] {
			t.Errorf("row %s/%s: no such field, or a duplicate", r.name, r.field)
		}
		seen[r.field], seen["-"+r.name] = true, true
	}
	for i := range ct.NumField() {
		if !seen[ct.Field(i).Name] {
			t.Errorf("Config.%s has no flag", ct.Field(i).Name)
		}
	}
}

// TestMissingPaths: a path a flag names that does not exist is an error
// that names it (status 1), and nothing is downloaded.
func TestMissingPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere", "cifar-10-binary.tar.gz")
	for _, args := range [][]string{
		{"-data", missing, "-iters", "1"},
		{"eval", "-weights", missing},
		{"resume", missing},
	} {
		code, stderr := execute(context.Background(), io.Discard, args...)
		if code != exitFailed || !strings.Contains(stderr, missing) || strings.Count(stderr, "\n") != 1 || exists(missing) || exists(missing+".part") {
			t.Errorf("train %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestParseArgs: flags before, between and after positional arguments; "--"
// ends them unless it is a flag's value.
func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args      string
		pos, x, y string
	}{
		{"a -x 1 b -y", "a b", "1", "true"},
		{"-x 1 -- -y b", "-y b", "1", "false"},
		{"-x -- a -y", "a", "--", "true"},
		{"-y -- -x", "-x", "", "true"},
		{"a - b", "a - b", "", "false"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		x, y := fs.String("x", "", ""), fs.Bool("y", false, "")
		pos, err := parseArgs(fs, strings.Fields(c.args))
		if err != nil || strings.Join(pos, " ") != c.pos || *x != c.x || strconv.FormatBool(*y) != c.y {
			t.Errorf("%q: %q, -x %q, -y %v, %v; want %q, %q, %s", c.args, pos, *x, *y, err, c.pos, c.x, c.y)
		}
	}
}

// TestPredictJSON: the command and the old mode flag, with flags anywhere,
// print one JSON line per image.
func TestPredictJSON(t *testing.T) {
	w, img := tinyWeights(t)
	for _, args := range [][]string{
		{"predict", "-weights", w, img, img, "-json"},
		{"-weights", w, "-predict", img, img, "-json"},
		{"predict", img, "-json", img, "-weights", w},
	} {
		lines := strings.Split(strings.TrimSpace(mustRun(t, args...)), "\n")
		for _, l := range lines {
			var r struct {
				Image string
				Top5  []struct{ Prob float64 }
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil || r.Image != img || len(r.Top5) != 5 || r.Top5[0].Prob < r.Top5[4].Prob {
				t.Errorf("train %s printed %q (%v)", strings.Join(args, " "), l, err)
			}
		}
		if len(lines) != 2 {
			t.Errorf("train %s: %d lines, want 2", strings.Join(args, " "), len(lines))
		}
	}
}

// TestPredictNormalization: weights that record no normalization are
// refused with the way out (-norm) instead of silently normalized some
// way; a -norm that contradicts the file is refused.
func TestPredictNormalization(t *testing.T) {
	w, img := tinyWeights(t)
	bare := filepath.Join(t.TempDir(), "bare.safetensors")
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.Save(bare, m, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "-weights", bare, img}, "-norm per-pixel-mean or -norm per-channel"},
		{[]string{"eval", "-weights", bare, "-data", t.TempDir()}, "-data"},
		{[]string{"predict", "-weights", w, "-norm", "per-pixel-mean", img}, "records per-channel"},
	} {
		code, stderr := execute(context.Background(), io.Discard, c.args...)
		if code != exitFailed || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") > 3 {
			t.Errorf("train %s: exit %d, want 1 and %q\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
}

// TestPredictHostileImage: a PNG whose header claims 200000x200000 pixels
// is refused from the header, naming the file, with no stack trace.
func TestPredictHostileImage(t *testing.T) {
	w, _ := tinyWeights(t)
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	binary.BigEndian.PutUint32(data[16:], 200000) // IHDR width
	binary.BigEndian.PutUint32(data[20:], 200000) // IHDR height
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	hostile := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(hostile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr := execute(context.Background(), io.Discard, "predict", "-weights", w, hostile)
	if code != exitFailed || !strings.Contains(stderr, hostile) || !strings.Contains(stderr, "200000x200000") || strings.Contains(stderr, "goroutine") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	code, stderr = execute(context.Background(), io.Discard, "predict", "-weights", w, "-max-pixels", "0", hostile)
	if code != exitUsage || !strings.Contains(stderr, "-max-pixels 0") {
		t.Errorf("-max-pixels 0: exit %d\n%s", code, stderr)
	}
}

// small are the flags of a run of a few seconds on synthetic data.
var small = []string{"-model", "resnet20", "-iters", "6", "-batch", "8", "-train-limit", "64", "-eval-limit", "40", "-eval-batch", "40", "-eval-every", "3", "-log-every", "1", "-ckpt-every", "0"}

// cancelAt is a writer that cancels a context when what it is written
// contains a marker.
type cancelAt struct {
	mu     sync.Mutex
	marker string
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// TestResumeRecordedData: a run on data outside every default place,
// interrupted, resumes with no flag at all (the data path and settings
// come from its config.json), and ends with the very checkpoint of an
// uninterrupted run. A flag given to resume changes its setting and is
// recorded.
func TestResumeRecordedData(t *testing.T) {
	data := synthetic(t, 20, 40)
	// Were the recorded path ignored, the default place would fail: a
	// directory that does not exist (and is never downloaded to).
	t.Setenv("CIFAR10_DATA", filepath.Join(t.TempDir(), "absent"))
	dir := t.TempDir()
	stopped, straight := filepath.Join(dir, "stopped"), filepath.Join(dir, "straight")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAt{marker: " iter 2/6 ", cancel: cancel}
	code, stderr := execute(ctx, w, append([]string{"run", "-data", data, "-out", stopped}, small...)...)
	if code != exitInterrupted || !strings.HasSuffix(stderr, "continue with: train resume "+stopped+"\n") {
		t.Fatalf("interrupted run: exit %d\n%s\n%s", code, stderr, w.buf.String())
	}
	if it := checkpointIter(t, stopped); it != 2 {
		t.Fatalf("interrupted at iteration %d, want 2", it)
	}
	out := mustRun(t, "resume", stopped)
	if !strings.Contains(out, "resuming resnet20 at iteration 2 of 6") || !strings.Contains(out, "6 iterations") {
		t.Errorf("resume printed\n%s", out)
	}
	mustRun(t, append([]string{"-data", data, "-out", straight}, small...)...)
	a, b := readCheckpoint(t, stopped), readCheckpoint(t, straight)
	if len(a.Tensors) != len(b.Tensors) || a.Metadata[train.MetaIteration] != "6" || b.Metadata[train.MetaIteration] != "6" {
		t.Fatalf("checkpoints: %d and %d tensors, iterations %s and %s", len(a.Tensors), len(b.Tensors), a.Metadata[train.MetaIteration], b.Metadata[train.MetaIteration])
	}
	for i, ta := range a.Tensors {
		if tb := b.Tensors[i]; ta.Name != tb.Name || !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s differs from the uninterrupted run's %s", ta.Name, tb.Name)
		}
	}
	// Extending the finished run: the flags given are recorded.
	mustRun(t, "resume", stopped, "-iters", "8", "-eval-every", "4")
	info, err := train.ReadRunInfo(stopped)
	if err != nil || info.Config.Iters != 8 || info.Config.EvalEvery != 4 || info.Config.LogEvery != 1 || info.Config.Data != data {
		t.Errorf("config.json after resume -iters 8 -eval-every 4: %+v (%v)", info.Config, err)
	}
	// A setting the checkpoint depends on cannot change, in flag terms.
	code, stderr = execute(context.Background(), io.Discard, "resume", stopped, "-iters", "9", "-seed", "2")
	if code != exitUsage || !strings.HasPrefix(stderr, "train resume: -seed 2: want 1") {
		t.Errorf("resume -seed 2: exit %d\n%s", code, stderr)
	}
}

func readCheckpoint(t *testing.T, dir string) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(dir, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func checkpointIter(t *testing.T, dir string) int {
	t.Helper()
	it, err := strconv.Atoi(readCheckpoint(t, dir).Metadata[train.MetaIteration])
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// TestSignal runs the command in a subprocess (this test binary, through
// TestMain) and interrupts it once training has started: it finishes its
// step, writes a checkpoint, says how to resume and exits with status 130.
func TestSignal(t *testing.T) {
	data := synthetic(t, 20, 40)
	dir := filepath.Join(t.TempDir(), "run")
	args, _ := json.Marshal([]string{"run", "-data", data, "-out", dir, "-iters", "100000", "-batch", "8", "-train-limit", "64",
		"-eval-limit", "40", "-eval-every", "0", "-log-every", "1", "-ckpt-every", "0"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(args))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), " iter ") {
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != exitInterrupted || !strings.HasSuffix(stderr.String(), "continue with: train resume "+dir+"\n") {
		t.Fatalf("exit %d (%v)\n%s", cmd.ProcessState.ExitCode(), err, stderr.String())
	}
	if it := checkpointIter(t, dir); it < 1 || it >= 100000 {
		t.Errorf("checkpoint at iteration %d", it)
	}
}

// TestREADME checks every command line of README.md: each parses, and the
// ones that are cheap (summary, version, help) run, printing what the
// README's comment says they end with.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // summary -dot writes its file here
	const prefix = "go run ./cmd/train"
	var lines []string
	fenced := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		if (fenced || strings.HasPrefix(l, "    ")) && strings.HasPrefix(strings.TrimSpace(l), prefix) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) < 10 || lines[0] != prefix+" -model resnet20" {
		t.Fatalf("found %d command lines, the first %q; want the README's, from %q", len(lines), lines, prefix+" -model resnet20")
	}
	for _, l := range lines {
		cmdline, comment, _ := strings.Cut(l, " #")
		args := strings.Fields(strings.TrimPrefix(cmdline, prefix))
		c, act, err := parse(args, io.Discard)
		if err != nil || act == nil {
			t.Errorf("%s: %v", l, err)
			continue
		}
		switch c.name {
		case "summary", "version", "help":
			out := mustRun(t, args...)
			if _, want, ok := strings.Cut(comment, "ends with: "); ok && !strings.HasSuffix(out, strings.TrimSpace(want)+"\n") {
				t.Errorf("%s: ends with %q", l, out[max(0, len(out)-80):])
			}
		}
	}
}

// TestData: data finds CIFAR-10 where it is told, checks that it loads
// and prints where it is; a missing path is an error that creates nothing.
func TestData(t *testing.T) {
	dir := synthetic(t, 120, 200)
	if out := mustRun(t, "data", "-data", dir); !strings.HasSuffix(out, ": 600 training and 200 test images\n") {
		t.Errorf("data printed %q", out)
	}
	missing := filepath.Join(t.TempDir(), "sub", "cifar-10-binary.tar.gz")
	code, stderr := execute(context.Background(), io.Discard, "data", "-data", missing)
	if code != exitFailed || !strings.Contains(stderr, missing) {
		t.Errorf("data -data MISSING: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("a missing -data path created %s", filepath.Dir(missing))
	}
}

// TestVersion: the module, Go version and revision lines.
func TestVersion(t *testing.T) {
	out := mustRun(t, "version")
	if !strings.HasPrefix(out, "module   ") || !strings.Contains(out, "\ngo       go1.") || !strings.Contains(out, "\nrevision ") {
		t.Errorf("version printed\n%s", out)
	}
	if code, stderr := execute(context.Background(), io.Discard, "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d\n%s", code, stderr)
	}
}

// TestSummary: a model's totals, by command and by the old flag, and its
// DOT graph.
func TestSummary(t *testing.T) {
	dot := filepath.Join(t.TempDir(), "m.dot")
	for _, args := range [][]string{{"summary", "-model", "resnet56", "-dot", dot}, {"-model", "resnet56", "-summary"}} {
		if out := mustRun(t, args...); !strings.HasSuffix(out, "params: 853018 macs: 125485696\n") {
			t.Errorf("train %s ends with %q", strings.Join(args, " "), out[max(0, len(out)-60):])
		}
	}
	if b, err := os.ReadFile(dot); err != nil || !bytes.Contains(b, []byte("digraph {")) {
		t.Errorf("-dot wrote %.40q (%v)", b, err)
	}
}

// TestTinySweep runs fig6-quick cut down to seconds and checks its outputs,
// compares the sweep with itself, and resumes it finished.
func TestTinySweep(t *testing.T) {
	data := archive(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	start := time.Now()
	sweep := []string{"sweep", "fig6-quick", "-data", data, "-out", dir,
		"-train-limit", "512", "-iters", "8", "-batch", "32", "-eval-every", "4", "-eval-limit", "200", "-eval-batch", "100", "-log-every", "2", "-analyze"}
	out := mustRun(t, sweep...)
	t.Logf("sweep in %v:\n%s", time.Since(start), out)
	for _, f := range []string{experiment.Fig6File, experiment.Fig7File, experiment.SummaryMDFile, experiment.SummaryJSONFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	var rs []train.Result
	b, _ := os.ReadFile(filepath.Join(dir, experiment.SummaryJSONFile))
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 4 {
		t.Fatalf("summary.json: %v, %d runs", err, len(rs))
	}
	for _, r := range rs {
		if r.Iters != 8 || r.Params == 0 || r.FinalTestErr <= 0 || r.FinalTestErr > 1 || r.WallS <= 0 {
			t.Errorf("implausible result %+v", r)
		}
	}
	// A sweep compared with itself: one panel per model, equal columns,
	// the sides named as asked; the old spelling too.
	for _, args := range [][]string{{"compare", dir, dir, "-names", "zero-init,default"}, {"-compare", dir + "," + dir, "-compare-names", "zero-init,default"}} {
		mustRun(t, args...)
		cmp, err := os.ReadFile(filepath.Join(dir, experiment.CompareMDFile))
		if err != nil || !exists(filepath.Join(dir, experiment.CompareFigFile)) || strings.Count(string(cmp), "| plain20 | 8 |")+strings.Count(string(cmp), "| resnet56 | 8 |") != 2 ||
			!strings.HasPrefix(string(cmp), "# zero-init against default") || !strings.Contains(string(cmp), "| resnet20 | default | . |") {
			t.Fatalf("comparison: %v\n%s", err, cmp)
		}
	}
	// Resuming the finished sweep, with no flag, or running the same sweep
	// command again (a retried cluster job), only redraws the summary; a
	// training flag is refused; another sweep into the same directory is
	// refused.
	mustRun(t, "resume", dir)
	if again := mustRun(t, sweep...); strings.Contains(again, "iter ") {
		t.Errorf("the same sweep again trained:\n%s", again)
	}
	if code, stderr := execute(context.Background(), io.Discard, "resume", dir, "-lr", "0.2"); code != exitUsage || !strings.Contains(stderr, "-lr") {
		t.Errorf("resume SWEEP -lr: exit %d\n%s", code, stderr)
	}
	code, stderr := execute(context.Background(), io.Discard, "sweep", "fig6-quick", "-data", data, "-out", dir)
	if code != exitFailed || !strings.Contains(stderr, "holds another sweep") {
		t.Fatalf("exit %d, want a refusal\n%s", code, stderr)
	}
	mustRun(t, "gather", dir)
	if code, stderr := execute(context.Background(), io.Discard, "sweep", "fig6-quick", "-shard", "3/2", "-out", dir); code != exitUsage || !strings.Contains(stderr, "-shard 3/2") {
		t.Errorf("-shard 3/2: exit %d\n%s", code, stderr)
	}
}

// TestWeights: a run leaves weights.safetensors with the normalization it
// trained with, which eval scores and a new run starts from.
func TestWeights(t *testing.T) {
	data := archive(t)
	dir := t.TempDir()
	run1 := filepath.Join(dir, "run1")
	small := []string{"-data", data, "-train-limit", "256", "-iters", "2", "-batch", "32", "-eval-limit", "64", "-eval-batch", "64"}
	mustRun(t, append([]string{"run", "-model", "resnet20", "-out", run1}, small...)...)
	w := filepath.Join(run1, train.WeightsFile)
	// The weights carry the exact mean image training subtracted.
	md, err := weights.ReadMetadata(w)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct{ Mean []float32 }
	b, _ := os.ReadFile(filepath.Join(run1, train.StatsFile))
	if err := json.Unmarshal(b, &stats); err != nil || len(stats.Mean) != 3*32*32 {
		t.Fatalf("stats.json: %v, %d mean values", err, len(stats.Mean))
	}
	pixelMean, err := weights.ParseFloats(md[weights.KeyNormalizePixelMean])
	if err != nil || len(pixelMean) != len(stats.Mean) {
		t.Fatalf("%s: %v, %d values", weights.KeyNormalizePixelMean, err, len(pixelMean))
	}
	for i, v := range pixelMean {
		if float32(v) != stats.Mean[i] {
			t.Fatalf("mean image value %d: %v in the weights, %v in stats.json", i, v, stats.Mean[i])
		}
	}
	for _, args := range [][]string{{"eval", "-weights", w, "-data", data, "-eval-limit", "64"}, {"-eval", "-weights", w, "-data", data, "-eval-limit", "64"}} {
		if out := mustRun(t, args...); !strings.Contains(out, "resnet20 on 64 test images") || !strings.Contains(out, "test error") {
			t.Errorf("train %s printed %q", strings.Join(args, " "), out)
		}
	}
	mustRun(t, append([]string{"run", "-model", "resnet20", "-init-from", w, "-out", filepath.Join(dir, "run2")}, small...)...)
	code, stderr := execute(context.Background(), io.Discard, "eval", "-model", "resnet56", "-weights", w, "-data", data)
	if code != exitFailed || !strings.Contains(stderr, "resnet20 weights") {
		t.Errorf("eval -model resnet56 of resnet20 weights: exit %d\n%s", code, stderr)
	}
}
