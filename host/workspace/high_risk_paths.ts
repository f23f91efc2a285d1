/**
 * The paths a host tool runs or trusts on its own — when you enter the directory, open the editor,
 * install, build, test, commit, push or start your own coding agent — so that a guest's change to
 * them is held back until the user confirms it (DESIGN security rule 10). The list is data: each
 * entry is a path glob (path_glob.ts syntax, matched case-insensitively; a glob naming a directory
 * covers everything below it), why it is dangerous, and the tool's documentation saying so.
 * docs/apply.md prints the same list; a test keeps the two in step.
 *
 * Beyond the list, every dotfile and everything in a dot-directory, at any depth, is high-risk by
 * default ({@linkcode DOTFILE_RULE}): tools keep their configuration there, and new tools keep
 * appearing. Only the few dotfiles in {@linkcode INERT_DOTFILES} (ignore lists, editor spacing)
 * are exempt.
 *
 * @module
 */

/** One kind of file the host runs or trusts. */
export interface HighRiskPath {
  /** Path glob: `**` spans directories, `*` and `?` stay within a name. */
  glob: string;
  /** Why the host may run or trust it, shown to the user. */
  reason: string;
  /** Where the tool documents that behaviour. */
  source: string;
}

/** Files that tools run or trust on their own. Order matters only for which reason is shown. */
export const HIGH_RISK_PATHS: readonly HighRiskPath[] = [
  // Agentbox itself.
  {
    glob: "**/.agentbox.toml",
    reason: "agentbox's own policy for the next session",
    source: "docs/configuration.md",
  },
  // Shells and environment managers.
  {
    glob: "**/.envrc",
    reason: "direnv runs .envrc when you enter the directory",
    source: "https://direnv.net/man/direnv-stdlib.1.html",
  },
  {
    glob: "**/.tool-versions",
    reason: "asdf and mise install and run the tools named here",
    source: "https://asdf-vm.com/manage/configuration.html",
  },
  {
    glob: "**/mise.toml",
    reason: "mise runs the hooks, tasks and environment set here",
    source: "https://mise.jdx.dev/configuration.html",
  },
  {
    glob: "**/mise.*.toml",
    reason: "mise runs the hooks, tasks and environment set here",
    source: "https://mise.jdx.dev/configuration.html",
  },
  {
    glob: "**/mise",
    reason: "mise reads mise/config.toml: hooks, tasks and environment",
    source: "https://mise.jdx.dev/configuration.html",
  },
  {
    glob: "**/.mise.toml",
    reason: "mise runs the hooks, tasks and environment set here",
    source: "https://mise.jdx.dev/configuration.html",
  },
  {
    glob: "**/.devcontainer",
    reason: "dev containers run the lifecycle commands (postCreateCommand, ...) set here",
    source: "https://containers.dev/implementors/json_reference/",
  },
  // Coding agents on the host.
  {
    glob: "**/.claude",
    reason: "Claude Code runs the hooks, and trusts the permissions, in .claude/settings*.json",
    source: "https://docs.anthropic.com/en/docs/claude-code/hooks",
  },
  {
    glob: "**/.mcp.json",
    reason: "Claude Code starts the MCP server commands listed here",
    source: "https://docs.anthropic.com/en/docs/claude-code/mcp",
  },
  {
    glob: "**/CLAUDE.md",
    reason: "instructions your host's Claude Code follows",
    source: "https://docs.anthropic.com/en/docs/claude-code/memory",
  },
  {
    glob: "**/CLAUDE.local.md",
    reason: "instructions your host's Claude Code follows",
    source: "https://docs.anthropic.com/en/docs/claude-code/memory",
  },
  {
    glob: "**/AGENTS.md",
    reason: "instructions your host's coding agents (Codex, ...) follow",
    source: "https://agents.md/",
  },
  {
    glob: "**/GEMINI.md",
    reason: "instructions your host's Gemini CLI follows",
    source: "https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/configuration.md",
  },
  {
    glob: "**/.gemini",
    reason: "Gemini CLI runs the MCP servers and tools configured here",
    source: "https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/configuration.md",
  },
  {
    glob: "**/.cursor",
    reason: "Cursor follows the rules and starts the MCP servers configured here",
    source: "https://docs.cursor.com/context/rules",
  },
  // Editors.
  {
    glob: "**/.vscode",
    reason: "VS Code runs tasks and settings from .vscode/",
    source: "https://code.visualstudio.com/docs/editor/workspace-trust",
  },
  {
    glob: "**/.idea",
    reason: "JetBrains IDEs run configurations from .idea/",
    source: "https://www.jetbrains.com/help/idea/project-security.html",
  },
  // Package managers and build tools.
  {
    glob: "**/package.json",
    reason: "package.json scripts run on npm/deno install and run",
    source: "https://docs.npmjs.com/cli/v10/using-npm/scripts",
  },
  {
    glob: "**/.npmrc",
    reason: "npm takes script-shell, node-options and registries from .npmrc",
    source: "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc",
  },
  {
    glob: "**/.yarnrc.yml",
    reason: "Yarn runs the yarnPath and plugins named here",
    source: "https://yarnpkg.com/configuration/yarnrc",
  },
  {
    glob: "**/.yarnrc",
    reason: "Yarn 1 runs the yarn-path named here",
    source: "https://classic.yarnpkg.com/en/docs/yarnrc",
  },
  {
    glob: "**/.pnpmfile.cjs",
    reason: "pnpm runs the hooks in .pnpmfile.cjs on install",
    source: "https://pnpm.io/pnpmfile",
  },
  {
    glob: "**/.cargo",
    reason: "cargo runs the runners, wrappers and aliases in .cargo/config.toml",
    source: "https://doc.rust-lang.org/cargo/reference/config.html",
  },
  {
    glob: "**/rust-toolchain.toml",
    reason: "rustup installs and runs the toolchain named here",
    source: "https://rust-lang.github.io/rustup/overrides.html",
  },
  {
    glob: "**/rust-toolchain",
    reason: "rustup installs and runs the toolchain named here",
    source: "https://rust-lang.github.io/rustup/overrides.html",
  },
  {
    glob: "**/gradle/wrapper",
    reason: "gradlew downloads and runs the distribution named here",
    source: "https://docs.gradle.org/current/userguide/gradle_wrapper.html",
  },
  {
    glob: "**/gradlew",
    reason: "the Gradle wrapper script runs when you build",
    source: "https://docs.gradle.org/current/userguide/gradle_wrapper.html",
  },
  {
    glob: "**/gradlew.bat",
    reason: "the Gradle wrapper script runs when you build",
    source: "https://docs.gradle.org/current/userguide/gradle_wrapper.html",
  },
  {
    glob: "**/.mvn",
    reason: "Maven loads the extensions, JVM options and wrapper named in .mvn/",
    source: "https://maven.apache.org/configure.html",
  },
  {
    glob: "**/mvnw",
    reason: "the Maven wrapper script runs when you build",
    source: "https://maven.apache.org/wrapper/",
  },
  {
    glob: "**/mvnw.cmd",
    reason: "the Maven wrapper script runs when you build",
    source: "https://maven.apache.org/wrapper/",
  },
  {
    glob: "**/conftest.py",
    reason: "pytest imports every conftest.py it finds",
    source: "https://docs.pytest.org/en/stable/reference/fixtures.html",
  },
  {
    glob: "**/Makefile",
    reason: "make runs Makefiles",
    source: "https://www.gnu.org/software/make/manual/make.html#Makefile-Names",
  },
  {
    glob: "**/GNUmakefile",
    reason: "make runs Makefiles",
    source: "https://www.gnu.org/software/make/manual/make.html#Makefile-Names",
  },
  {
    glob: "**/*.mk",
    reason: "make includes .mk files",
    source: "https://www.gnu.org/software/make/manual/make.html#Include",
  },
  {
    glob: "**/justfile",
    reason: "just runs the recipes in justfile",
    source: "https://just.systems/man/en/",
  },
  {
    glob: "**/Taskfile.yml",
    reason: "Task runs the tasks in Taskfile.yml",
    source: "https://taskfile.dev/usage/",
  },
  {
    glob: "**/Taskfile.yaml",
    reason: "Task runs the tasks in Taskfile.yaml",
    source: "https://taskfile.dev/usage/",
  },
  {
    glob: "**/Rakefile",
    reason: "rake runs the tasks in Rakefile",
    source: "https://ruby.github.io/rake/",
  },
  // Git hooks and git's own settings.
  {
    glob: "**/.pre-commit-config.yaml",
    reason: "pre-commit runs the hooks listed here",
    source: "https://pre-commit.com/#plugins",
  },
  {
    glob: "**/.husky",
    reason: "husky installs these files as git hooks",
    source: "https://typicode.github.io/husky/",
  },
  {
    glob: "**/lefthook.yml",
    reason: "lefthook runs the git hooks listed here",
    source: "https://lefthook.dev/configuration/",
  },
  {
    glob: "**/lefthook.yaml",
    reason: "lefthook runs the git hooks listed here",
    source: "https://lefthook.dev/configuration/",
  },
  {
    glob: "**/lefthook-local.yml",
    reason: "lefthook runs the git hooks listed here",
    source: "https://lefthook.dev/configuration/",
  },
  {
    glob: "**/.lefthook.yml",
    reason: "lefthook runs the git hooks listed here",
    source: "https://lefthook.dev/configuration/",
  },
  {
    glob: "**/.gitmodules",
    reason: "git fetches submodules from the URLs listed here",
    source: "https://git-scm.com/docs/gitmodules",
  },
  {
    glob: "**/.gitattributes",
    reason: "git runs filter and diff drivers named here",
    source: "https://git-scm.com/docs/gitattributes",
  },
  // CI: runs with the repository's secrets once pushed.
  {
    glob: "**/.github/workflows",
    reason: "GitHub Actions runs workflow files",
    source: "https://docs.github.com/en/actions/writing-workflows",
  },
  {
    glob: "**/.github/actions",
    reason: "GitHub Actions runs the local actions that workflows use",
    source: "https://docs.github.com/en/actions/sharing-automations/creating-actions",
  },
  {
    glob: "**/.gitlab-ci.yml",
    reason: "GitLab CI runs .gitlab-ci.yml",
    source: "https://docs.gitlab.com/ee/ci/yaml/",
  },
  {
    glob: "**/.circleci",
    reason: "CircleCI runs .circleci/config.yml",
    source: "https://circleci.com/docs/configuration-reference/",
  },
  {
    glob: "**/Jenkinsfile",
    reason: "Jenkins runs the pipeline in Jenkinsfile",
    source: "https://www.jenkins.io/doc/book/pipeline/jenkinsfile/",
  },
];

/** The default for dotfiles and dot-directories the list does not name. */
export const DOTFILE_RULE: Omit<HighRiskPath, "glob"> = {
  reason: "dotfiles and dot-directories configure tools that may run on their own",
  source: "agentbox's default rule (docs/apply.md)",
};

/** Dotfiles no tool runs: ignore lists and editor spacing (outside a dot-directory only). */
export const INERT_DOTFILES: readonly string[] = [
  ".gitignore",
  ".dockerignore",
  ".npmignore",
  ".prettierignore",
  ".eslintignore",
  ".gitkeep",
  ".keep",
  ".editorconfig",
];
