package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pkg/errors"
)

var (
	oldFile = &File{Tensors: []Tensor{FromFloat32("w", []int{2}, []float32{1, 2})}}
	newFile = &File{
		Tensors:  []Tensor{FromFloat64("w", []int{3}, []float64{3, 4, 5}), FromInt64("n", nil, []int64{9})},
		Metadata: map[string]string{"format": "pt"},
	}
)

// writeOld writes oldFile at dir/model.safetensors and returns the path and
// the bytes written.
func writeOld(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, oldFile); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, content
}

// assertOnly checks that dir holds exactly the named entries: no temporary
// file was left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed", path)
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, %v; want 0644", info.Mode(), err)
	}
	if !bytes.Equal(old, mustWrite(t, oldFile)) {
		t.Errorf("WriteFile and Write disagree")
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, newFile); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustWrite(t, got), mustWrite(t, newFile)) {
		t.Errorf("replaced file does not hold the new tensors")
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v, %v; want the old 0600", info.Mode(), err)
	}
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteFileInvalidInputLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	bad := &File{Tensors: []Tensor{FromFloat32("x", []int{4}, []float32{1})}}
	err := WriteFile(path, bad)
	if err == nil || !strings.Contains(err.Error(), "safetensors: write "+path+`: tensor "x"`) {
		t.Fatalf("error %v", err)
	}
	assertContent(t, path, old)
	assertOnly(t, dir, "model.safetensors")
}

// TestWriteFileFailureAfterWritingLeavesOldFile fails WriteFile once the
// temporary file holds the complete new content, just before the rename.
func TestWriteFileFailureAfterWritingLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	var tempPath string
	beforeRename = func(temp string) error {
		tempPath = temp
		if filepath.Dir(temp) != dir {
			t.Errorf("temporary file %s is not in %s", temp, dir)
		}
		written, err := os.ReadFile(temp)
		if err != nil || !bytes.Equal(written, mustWrite(t, newFile)) {
			t.Errorf("temporary file incomplete: %v", err)
		}
		return errors.New("simulated crash")
	}
	defer func() { beforeRename = nil }()
	err := WriteFile(path, newFile)
	if err == nil || !strings.Contains(err.Error(), "simulated crash") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v", err)
	}
	if tempPath == "" {
		t.Fatal("hook not called")
	}
	assertContent(t, path, old)
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteFileRenameFailure(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "model.safetensors")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(target, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(target, newFile)
	if err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("error %v", err)
	}
	assertContent(t, keep, []byte("x"))
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "model.safetensors")
	err := WriteFile(path, newFile)
	if err == nil || !strings.Contains(err.Error(), "safetensors: write "+path+": creating a temporary file") {
		t.Fatalf("error %v", err)
	}
}

func TestWriteFileReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; the rename-failure and crash tests cover this path")
	}
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	err := WriteFile(path, newFile)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v", err)
	}
	assertContent(t, path, old)
	assertOnly(t, dir, "model.safetensors")
}
