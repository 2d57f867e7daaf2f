# Sourced by the scripts whose runs outlast a session: a run made of
# segments is one program's run only if every segment runs a binary of the
# same commit, whatever the checkout has become since.
#
# pinned_tree COMMIT prints a detached worktree of COMMIT (made under
# ${TMPDIR:-/tmp} when missing); pinned_train COMMIT prints the path of
# cmd/train built there with CGO_ENABLED=0 -trimpath (built when missing), so
# that a rebuild gives the same bytes.

pinned_tree() {
  local commit=$1
  local src=${TMPDIR:-/tmp}/pinned-$commit
  if [[ ! -d $src ]]; then
    git worktree prune
    git worktree add --detach "$src" "$commit" >&2
  fi
  echo "$src"
}

pinned_train() {
  local commit=$1 src
  src=$(pinned_tree "$commit")
  local bin=$src/cmd/train/train-$commit
  [[ -x $bin ]] || (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/train)
  echo "$bin"
}

# head_commit prints HEAD's commit, refusing a checkout whose tracked
# files outside results/ differ from it: the recorded commit must be the
# code that runs.
head_commit() {
  if ! git diff --quiet HEAD -- . ':(exclude)results'; then
    echo "$(basename "$0"): the checkout has uncommitted changes outside results/: commit them first, so that the run records the code it ran" >&2
    return 2
  fi
  git rev-parse HEAD
}
