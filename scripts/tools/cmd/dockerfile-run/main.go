// Command dockerfile-run runs a Dockerfile's stages outside Docker, for a CI
// machine that has no engine: each stage gets a directory that stands for its
// root file system, COPY copies into it (honouring .dockerignore), and RUN runs
// on the host with its WORKDIR mapped into that directory. It parses the file
// with BuildKit's own parser, so what it runs is what `docker build` would.
//
// What it cannot do, it checks instead, and says so:
//   - FROM: the host must be the image's Debian release with the image's
//     Node.js major (the base image is otherwise not present).
//   - A RUN that calls apt-get is system setup: every package it installs must
//     be installed on the host (with -apt install, missing ones are installed
//     from the host's apt, as root); the rest of that RUN (useradd, chown of
//     absolute paths) is not run. Every other RUN must use relative paths.
//
// The result is cached like Docker's layer cache: the key covers the
// Dockerfile, every context file a COPY reads, the host's Node.js and Debian
// release; an unchanged key reuses the previous output.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Image is what the last stage declares about the container it makes.
type Image struct {
	Root        string            `json:"root"`
	Workdir     string            `json:"workdir"`
	Env         map[string]string `json:"env"`
	User        string            `json:"user"`
	Entrypoint  []string          `json:"entrypoint"`
	Cmd         []string          `json:"cmd"`
	Healthcheck []string          `json:"healthcheck"`
	Expose      []string          `json:"expose"`
	Volumes     []string          `json:"volumes"`
}

// Summary is written to -summary: where each stage's root is, and the final image.
type Summary struct {
	Key    string            `json:"key"`
	Cached bool              `json:"cached"`
	Stages map[string]string `json:"stages"`
	Image  Image             `json:"image"`
	// Steps says, per instruction, what happened to it outside Docker.
	Steps []string `json:"steps"`
}

type stage struct {
	name    string
	root    string
	workdir string
	env     map[string]string
	image   Image
}

type runner struct {
	context  string
	ignore   *patternmatcher.PatternMatcher
	apt      string
	meta     map[string]string
	stages   map[string]*stage
	steps    []string
	aptFresh bool
}

func main() {
	dockerfile := flag.String("f", "Dockerfile", "the Dockerfile")
	contextDir := flag.String("context", ".", "the build context")
	out := flag.String("out", filepath.Join(os.TempDir(), "commitlog-image-build"), "cache directory for stage roots; not inside a Node.js project")
	apt := flag.String("apt", "check", "apt-get steps: check (packages must be installed) or install (install missing ones, as root)")
	summaryPath := flag.String("summary", "", "write a JSON summary here")
	flag.Parse()
	if err := run(*dockerfile, *contextDir, *out, *apt, *summaryPath); err != nil {
		fmt.Fprintf(os.Stderr, "dockerfile-run: %v\n", err)
		os.Exit(1)
	}
}

func run(dockerfile, contextDir, out, apt, summaryPath string) error {
	text, err := os.ReadFile(dockerfile)
	if err != nil {
		return err
	}
	ast, err := parser.Parse(bytes.NewReader(text))
	if err != nil {
		return fmt.Errorf("%s: %w", dockerfile, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", dockerfile, err)
	}
	r := &runner{context: contextDir, apt: apt, meta: map[string]string{}, stages: map[string]*stage{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				r.meta[kv.Key] = *kv.Value
			}
		}
	}
	if r.ignore, err = readIgnore(filepath.Join(contextDir, ".dockerignore")); err != nil {
		return err
	}

	if err := checkOutside(out); err != nil {
		return err
	}
	key, err := r.cacheKey(text, stages)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, key)
	summaryFile := filepath.Join(dir, "summary.json")
	var summary Summary
	if data, err := os.ReadFile(summaryFile); err == nil && json.Unmarshal(data, &summary) == nil {
		summary.Cached = true
		fmt.Printf("dockerfile-run: inputs unchanged (key %s): reusing %s\n", key[:12], dir)
	} else {
		// Stale outputs are whole builds of earlier inputs: drop them.
		if entries, err := os.ReadDir(out); err == nil {
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(out, e.Name()))
			}
		}
		start := time.Now()
		summary, err = r.build(stages, dir)
		if err != nil {
			return err
		}
		summary.Key = key
		data, _ := json.MarshalIndent(summary, "", "  ")
		if err := os.WriteFile(summaryFile, data, 0o644); err != nil {
			return err
		}
		fmt.Printf("dockerfile-run: built %d stages in %s\n", len(stages), time.Since(start).Round(time.Second))
	}
	if summaryPath != "" {
		data, _ := json.MarshalIndent(summary, "", "  ")
		return os.WriteFile(summaryPath, data, 0o644)
	}
	return nil
}

// checkOutside refuses an output directory inside a Node.js project: node
// resolves modules from every parent's node_modules, which would hide a
// dependency missing from the image's own node_modules.
func checkOutside(out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		for _, name := range []string{"node_modules", "package.json"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return fmt.Errorf("-out %s is inside %s, which has %s: node would resolve modules from there", out, dir, name)
			}
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

func readIgnore(path string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return patternmatcher.New(nil)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// expand substitutes ${NAME} and $NAME from vars, as the Dockerfile's ARG/ENV would.
func expand(word string, vars map[string]string) string {
	return os.Expand(word, func(name string) string { return vars[name] })
}

func (r *runner) build(stages []instructions.Stage, dir string) (Summary, error) {
	summary := Summary{Stages: map[string]string{}}
	var last *stage
	for i, s := range stages {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("stage-%d", i)
		}
		st := &stage{name: name, root: filepath.Join(dir, name), workdir: "/", env: map[string]string{}}
		base := expand(s.BaseName, r.meta)
		if parent, ok := r.stages[base]; ok {
			if err := copyTree(parent.root, st.root); err != nil {
				return summary, err
			}
			st.workdir = parent.workdir
			for k, v := range parent.env {
				st.env[k] = v
			}
			st.image = parent.image
			r.step("FROM %s: a copy of stage %s", base, base)
		} else {
			if err := checkBaseImage(base); err != nil {
				return summary, fmt.Errorf("stage %s: %w", name, err)
			}
			if err := os.MkdirAll(st.root, 0o755); err != nil {
				return summary, err
			}
			r.step("FROM %s: host matches (Debian release, Node.js major)", base)
		}
		for _, cmd := range s.Commands {
			if err := r.apply(st, cmd); err != nil {
				return summary, fmt.Errorf("stage %s: %s: %w", name, cmd.Name(), err)
			}
		}
		st.image.Root = st.root
		st.image.Workdir = st.workdir
		st.image.Env = st.env
		r.stages[name] = st
		summary.Stages[name] = st.root
		last = st
	}
	if last != nil {
		summary.Image = last.image
	}
	summary.Steps = r.steps
	return summary, nil
}

func (r *runner) step(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.steps = append(r.steps, line)
	fmt.Printf("  %s\n", line)
}

func (r *runner) vars(st *stage) map[string]string {
	vars := map[string]string{}
	for k, v := range r.meta {
		vars[k] = v
	}
	for k, v := range st.env {
		vars[k] = v
	}
	return vars
}

// hostPath maps a container path (absolute, or relative to WORKDIR) into the stage root.
func (st *stage) hostPath(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(st.workdir, p)
	}
	return filepath.Join(st.root, filepath.Clean(p))
}

func (r *runner) apply(st *stage, cmd instructions.Command) error {
	vars := r.vars(st)
	expander := func(word string) (string, error) { return expand(word, vars), nil }
	if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := e.Expand(expander); err != nil {
			return err
		}
	}
	switch c := cmd.(type) {
	case *instructions.WorkdirCommand:
		if filepath.IsAbs(c.Path) {
			st.workdir = filepath.Clean(c.Path)
		} else {
			st.workdir = filepath.Join(st.workdir, c.Path)
		}
		r.step("WORKDIR %s", st.workdir)
		return os.MkdirAll(st.hostPath("."), 0o755)
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			st.env[kv.Key] = kv.Value
		}
		return nil
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			if v, ok := r.meta[kv.Key]; ok && kv.Value == nil {
				st.env[kv.Key] = v
			} else if kv.Value != nil {
				st.env[kv.Key] = *kv.Value
			}
		}
		return nil
	case *instructions.CopyCommand:
		return r.copy(st, c)
	case *instructions.RunCommand:
		return r.run(st, c)
	case *instructions.UserCommand:
		st.image.User = c.User
		return nil
	case *instructions.ExposeCommand:
		st.image.Expose = append(st.image.Expose, c.Ports...)
		return nil
	case *instructions.VolumeCommand:
		st.image.Volumes = append(st.image.Volumes, c.Volumes...)
		return nil
	case *instructions.EntrypointCommand:
		st.image.Entrypoint = c.CmdLine
		return nil
	case *instructions.CmdCommand:
		st.image.Cmd = c.CmdLine
		return nil
	case *instructions.HealthCheckCommand:
		st.image.Healthcheck = c.Health.Test
		return nil
	case *instructions.LabelCommand, *instructions.StopSignalCommand:
		return nil
	default:
		return fmt.Errorf("not supported outside Docker")
	}
}

func (r *runner) copy(st *stage, c *instructions.CopyCommand) error {
	dest := st.hostPath(c.DestPath)
	destIsDir := strings.HasSuffix(c.DestPath, "/") || c.DestPath == "." || len(c.SourcePaths) > 1
	from, srcRoot := "context", r.context
	if c.From != "" {
		parent, ok := r.stages[c.From]
		if !ok {
			return fmt.Errorf("--from=%s: no such stage", c.From)
		}
		from, srcRoot = "stage "+c.From, parent.root
	}
	for _, src := range c.SourcePaths {
		if strings.ContainsAny(src, "*?[") {
			return fmt.Errorf("%s: wildcards are not supported", src)
		}
		rel := strings.TrimPrefix(filepath.Clean(src), "/")
		abs := filepath.Join(srcRoot, rel)
		info, err := os.Lstat(abs)
		if err != nil {
			return err
		}
		if info.IsDir() {
			// COPY dir/ dest/ copies what is in dir.
			err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				inner, _ := filepath.Rel(abs, p)
				if c.From == "" {
					ctxRel, _ := filepath.Rel(r.context, p)
					if skip, _ := r.ignore.MatchesOrParentMatches(filepath.ToSlash(ctxRel)); skip {
						if d.IsDir() {
							return filepath.SkipDir
						}
						return nil
					}
				}
				if d.IsDir() {
					return os.MkdirAll(filepath.Join(dest, inner), 0o755)
				}
				return copyEntry(p, filepath.Join(dest, inner))
			})
		} else {
			target := dest
			if destIsDir {
				target = filepath.Join(dest, filepath.Base(rel))
			}
			err = copyEntry(abs, target)
		}
		if err != nil {
			return err
		}
	}
	r.step("COPY %s (%s) -> %s", strings.Join(c.SourcePaths, " "), from, c.DestPath)
	return nil
}

var aptInstall = regexp.MustCompile(`apt-get\s+install\s+([^&;|]*)`)

func (r *runner) run(st *stage, c *instructions.RunCommand) error {
	line := strings.Join(c.CmdLine, " ")
	if strings.Contains(line, "apt-get") {
		return r.systemStep(line)
	}
	var cmd *exec.Cmd
	if c.PrependShell {
		cmd = exec.Command("/bin/sh", "-c", line)
	} else {
		cmd = exec.Command(c.CmdLine[0], c.CmdLine[1:]...)
	}
	cmd.Dir = st.hostPath(".")
	cmd.Env = os.Environ()
	for k, v := range st.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	fmt.Printf("  RUN %s\n", oneLine(line))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("RUN %s: %w", oneLine(line), err)
	}
	r.step("RUN %s: ran in %s (%s)", oneLine(line), cmd.Dir, time.Since(start).Round(time.Second))
	return nil
}

// systemStep checks (or installs) the packages an apt-get RUN installs; the rest of it is not run.
func (r *runner) systemStep(line string) error {
	var packages []string
	for _, m := range aptInstall.FindAllStringSubmatch(line, -1) {
		for _, word := range strings.Fields(m[1]) {
			if !strings.HasPrefix(word, "-") && word != "\\" {
				packages = append(packages, word)
			}
		}
	}
	var missing []string
	for _, p := range packages {
		status, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if string(status) != "install ok installed" {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && r.apt == "install" && os.Geteuid() == 0 {
		if !r.aptFresh {
			if err := runQuiet("apt-get", "update", "-qq"); err != nil {
				return err
			}
			r.aptFresh = true
		}
		args := append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)
		if err := runQuiet("apt-get", args...); err != nil {
			return err
		}
		r.step("RUN (system step): installed %s on the host with apt-get", strings.Join(missing, " "))
		missing = nil
	}
	if len(missing) > 0 {
		return fmt.Errorf("the image installs %s, not installed on this host (run with -apt install as root)", strings.Join(missing, " "))
	}
	sort.Strings(packages)
	r.step("RUN (system step, not run): apt packages present on the host: %s", strings.Join(packages, " "))
	return nil
}

func runQuiet(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

var nodeImage = regexp.MustCompile(`^node:([0-9.]+)-([a-z]+)(-slim)?$`)

// checkBaseImage: outside Docker the host stands in for the base image, so it must be the same kind.
func checkBaseImage(ref string) error {
	m := nodeImage.FindStringSubmatch(ref)
	if m == nil {
		return fmt.Errorf("FROM %s: only node:<version>-<debian release>[-slim] images can be stood in for by the host", ref)
	}
	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return err
	}
	if !regexp.MustCompile(`(?m)^VERSION_CODENAME=` + m[2] + `$`).Match(osRelease) {
		return fmt.Errorf("FROM %s: the host is not Debian %s", ref, m[2])
	}
	version, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("node --version: %w", err)
	}
	host := strings.TrimPrefix(strings.TrimSpace(string(version)), "v")
	if host != m[1] && !strings.HasPrefix(host, m[1]+".") {
		return fmt.Errorf("FROM %s: the host has Node.js %s", ref, host)
	}
	return nil
}

// cacheKey hashes what the build reads: the Dockerfile, every context file a
// COPY takes (names, modes and contents), the host's Node.js and Debian release.
func (r *runner) cacheKey(dockerfile []byte, stages []instructions.Stage) (string, error) {
	h := sha256.New()
	h.Write(dockerfile)
	version, _ := exec.Command("node", "--version").Output()
	osRelease, _ := os.ReadFile("/etc/os-release")
	h.Write(version)
	h.Write(osRelease)
	for _, s := range stages {
		for _, cmd := range s.Commands {
			c, ok := cmd.(*instructions.CopyCommand)
			if !ok || c.From != "" {
				continue
			}
			for _, src := range c.SourcePaths {
				abs := filepath.Join(r.context, strings.TrimPrefix(filepath.Clean(src), "/"))
				err := filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(r.context, p)
					if skip, _ := r.ignore.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
						if d.IsDir() {
							return filepath.SkipDir
						}
						return nil
					}
					if d.IsDir() {
						return nil
					}
					info, err := d.Info()
					if err != nil {
						return err
					}
					fmt.Fprintf(h, "%s %o\n", rel, info.Mode())
					f, err := os.Open(p)
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = io.Copy(h, f)
					return err
				})
				if err != nil {
					return "", err
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyEntry(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if info.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		_ = os.Remove(dst)
		return os.Symlink(target, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyEntry(p, filepath.Join(dst, rel))
	})
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}
