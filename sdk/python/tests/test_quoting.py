import shlex
import unittest

from agentbox import shell_command
from agentbox.sandbox import SH_OPTIONS, Sandbox


class ShellCommandTest(unittest.TestCase):
    def test_values_are_quoted_and_come_back_unchanged(self):
        hostile = ["a b", "; rm -rf /", "$(id)", "`id`", "'", '"', "\\", "*", "\n", "", "-n", "ü"]
        for value in hostile:
            command = shell_command("printf %s {}", value)
            self.assertEqual(shlex.split(command), ["printf", "%s", value], command)

    def test_named_fields_lists_and_numbers(self):
        self.assertEqual(
            shell_command("cp {files} {dest} # {n}", files=["a b", "c"], dest="/x y", n=3),
            "cp 'a b' c '/x y' # 3",
        )
        self.assertEqual(shell_command("echo {0} {0}", "x y"), "echo 'x y' 'x y'")

    def test_the_template_is_not_quoted_and_braces_escape(self):
        self.assertEqual(shell_command("echo {{}} | wc -l"), "echo {} | wc -l")

    def test_format_specs_apply_before_quoting(self):
        self.assertEqual(shell_command("echo {:>4}", 7), "echo '   7'")

    def test_bytes_and_none_are_refused(self):
        with self.assertRaises(TypeError):
            shell_command("echo {}", b"x")
        with self.assertRaises(TypeError):
            shell_command("echo {}", None)

    def test_sh_refuses_a_field_named_like_an_option(self):
        sandbox = Sandbox.__new__(Sandbox)  # no server needed: it fails before any request
        for option in sorted(SH_OPTIONS):
            with self.assertRaises(TypeError, msg=option):
                sandbox.sh("echo {%s}" % option, **{option: "x"})


if __name__ == "__main__":
    unittest.main()
