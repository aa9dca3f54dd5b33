"""One settings tree: every flag of `releaseguard run` has its RELEASEGUARD_* variable, and the
two give the same settings; the flag wins over the variable."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from releaseguard.operator.settings import OperatorSettings, add_arguments, env_name, from_args, from_env

FLAGS = [
    ("--namespace", "a", ["a"]),
    ("--metrics-port", "9100", None),
    ("--metrics-address", "127.0.0.1", None),
    ("--health-port", "9101", None),
    ("--runner-image", "registry.example/runner:2", None),
    ("--peering", "releaseguard", None),
    ("--priority", "7", None),
    ("--peering-lifetime", "5", None),
    ("--workers", "3", None),
    ("--job-ttl-seconds", "7200", None),
    ("--timeout-grace-seconds", "12.5", None),
    ("--message-grace-seconds", "4", None),
    ("--allowed-image", "r/*", None),
    ("--allowed-service-account", "prober", None),
    ("--excluded-namespace", "ops", None),
    ("--denied-network", "10.0.0.0/8", None),
]
SWITCHES = ["--dry-run", "--verbose"]


def parse(argv: list[str], env: dict[str, str] | None = None) -> OperatorSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser, env or {})
    return from_args(parser.parse_args(argv))


def test_every_option_of_the_parser_is_covered_here() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, {})
    options = {a.option_strings[-1] for a in parser._actions if a.option_strings and a.dest != "help"}
    assert options - {"--all-namespaces", "--standalone", "--notifications-config"} == {f for f, _, _ in FLAGS} | set(
        SWITCHES
    )


@pytest.mark.parametrize(("flag", "value", "_"), FLAGS)
def test_a_flag_and_its_variable_give_the_same_settings(flag: str, value: str, _: object) -> None:
    by_flag = parse([flag, value])
    by_env = from_env({env_name(flag): value})
    assert by_flag == by_env
    assert by_flag != OperatorSettings() or flag == "--metrics-port"


@pytest.mark.parametrize("switch", SWITCHES)
def test_switches_too(switch: str) -> None:
    assert parse([switch]) == from_env({env_name(switch): "true"}) != parse([])


def test_the_flag_wins_and_lists_are_comma_separated() -> None:
    settings = parse(["--workers", "2"], {"RELEASEGUARD_WORKERS": "9", "RELEASEGUARD_ALLOWED_IMAGE": "a/*, b/*"})
    assert settings.workers == 2
    assert settings.policy.allowed_images == ("a/*", "b/*")


def test_defaults_and_what_the_core_gets() -> None:
    settings = from_env({})
    assert settings == dataclasses.replace(OperatorSettings(), policy=settings.policy)
    assert settings.policy.excluded_namespaces == ("kube-system",)
    decisions = parse(["--dry-run", "--job-ttl-seconds", "10", "--message-grace-seconds", "1"]).decisions()
    assert (decisions.dry_run, decisions.job_ttl_seconds, decisions.message_grace_seconds) == (True, 10, 1.0)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"RELEASEGUARD_WORKERS": "many"}, "RELEASEGUARD_WORKERS"),
        ({"RELEASEGUARD_WORKERS": "0"}, "--workers: expected at least 1"),
        ({"RELEASEGUARD_DENIED_NETWORK": "nope"}, "--denied-network 'nope'"),
        ({"RELEASEGUARD_NOTIFICATIONS_CONFIG": "/nonexistent/notify.yaml"}, "--notifications-config"),
    ],
)
def test_a_bad_value_names_its_setting(env: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        from_env(env)
