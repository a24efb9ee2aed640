"""tools.cost: the idle cost is read from the translated template, priced from one dated file."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from lambda_shared.emf import INIT_METRICS, PHASE_PREFIX
from tools.cost import PRESETS, TEMPLATES, estimate, load_prices
from tools.cost.__main__ import main
from tools.cost.model import PRICE_FILE, _Costing
from tools.template.cfn import parameter_values, source_template, translate

PRICES = load_prices()
HOURS = PRICES["hours_per_month"]["value"]
MONTH_S = HOURS * 3600
#: premium opened by source address, so that provisioned concurrency serves someone
OPEN = {"PremiumAllowedCidr": "203.0.113.0/24"}


def price(name: str) -> float:
    return float(PRICES["prices"][name]["value"])


def line(result: Any, resource: str) -> Any:
    [found] = [x for x in result.lines if x.resource == resource]
    return found


@pytest.fixture(scope="module")
def defaults() -> Any:
    return estimate({})


def test_the_defaults_total_is_the_sum_of_lines_read_from_the_translated_template(defaults: Any) -> None:
    # GIVEN the template's defaults WHEN costed THEN each resource that idles has its line
    assert defaults.total == pytest.approx(sum(x.usd for x in defaults.lines))
    assert line(defaults, "LoadBalancer").usd == pytest.approx(HOURS * price("alb_hour"))
    # REQUIRED gives two subnets: one public address each on an internet-facing load balancer
    assert line(defaults, "LoadBalancer public IPv4").usd == pytest.approx(2 * HOURS * price("public_ipv4_hour"))
    assert line(defaults, "ColdStartDashboard").usd == price("cw_dashboard_month")
    assert defaults.refused == []
    assert defaults.unpriced == [], "a resource type tools/cost has no rule for: price it or list it as free"


def test_the_load_balancers_addresses_follow_its_scheme_and_subnets() -> None:
    three = estimate({"SubnetIds": "subnet-0aaa,subnet-0bbb,subnet-0ccc"})
    assert line(three, "LoadBalancer public IPv4").usd == pytest.approx(3 * HOURS * price("public_ipv4_hour"))
    internal = estimate({"LoadBalancerScheme": "internal"})
    assert not [x for x in internal.lines if x.resource == "LoadBalancer public IPv4"]


def test_provisioned_concurrency_2_adds_its_line_at_the_functions_memory() -> None:
    # GIVEN premium open, with and without provisioned concurrency
    without = estimate({**OPEN, "PremiumProvisionedConcurrency": "0"})
    with_pc = estimate({**OPEN, "PremiumProvisionedConcurrency": "2", "FunctionMemorySize": "2048"})
    # THEN only the second has the line: 2 environments x 2 GB all month
    assert not [x for x in without.lines if "provisioned concurrency" in x.resource]
    expected = 2 * 2.0 * MONTH_S * price("lambda_pc_gb_s")
    assert line(with_pc, "PremiumFunction provisioned concurrency").usd == pytest.approx(expected)
    # ... and the target-tracking alarms and the spill-over alarm come with it
    assert line(with_pc, "PremiumScalingPolicy").usd == pytest.approx(2 * price("cw_alarm_metric_month"))
    assert line(with_pc, "PremiumSpilloverAlarm").usd == pytest.approx(price("cw_alarm_metric_month"))


def test_the_gpu_tier_adds_its_minimum_instances_and_the_management_fee() -> None:
    types = PRICES["prices"]["ec2_on_demand_hour"]["types"]
    gpu = estimate(PRESETS["gpu"])
    ec2 = 3 * HOURS * types["g6.xlarge"]["value"]     # the assumed type when GpuInstanceTypes is empty
    assert line(gpu, "GpuCapacityProvider instances").usd == pytest.approx(ec2)
    assert line(gpu, "GpuCapacityProvider management fee").usd == pytest.approx(ec2 * price("lmi_management_fee"))
    assert gpu.total - estimate({}).total > ec2
    # Lambda picks among the allowed types: the least it can cost is the cheapest one's
    listed = estimate({**PRESETS["gpu"], "GpuInstanceTypes": "g6e.xlarge,g4dn.xlarge"})
    assert "g4dn.xlarge" in line(listed, "GpuCapacityProvider instances").idles
    # the vCPU ceiling caps the instance count (8 vCPUs: two 4-vCPU instances)
    capped = estimate({**PRESETS["gpu"], "GpuMaxVCpuCount": "8"})
    assert line(capped, "GpuCapacityProvider instances").usd == pytest.approx(2 * HOURS * types["g6.xlarge"]["value"])


def test_a_scheduled_minimum_adds_its_busy_hours_of_provisioned_concurrency() -> None:
    # GIVEN 1 provisioned environment, 3 from 08:00 to 20:00 on weekdays (the default schedule)
    result = estimate({**OPEN, "PremiumProvisionedConcurrency": "1", "PremiumScheduledMinimum": "3",
                       "FunctionMemorySize": "1024"})
    # THEN 2 more 1 GB environments for 60 of the week's 168 hours
    busy_s = 60 / 168 * MONTH_S
    assert line(result, "PremiumFunction scheduled minimum").usd == pytest.approx(2 * busy_s * price("lambda_pc_gb_s"))
    assert result.unpriced == []


def test_the_free_tier_figure_takes_off_at_most_its_allowances() -> None:
    # GIVEN the most metrics a CPU configuration idles with: SnapStart's restore metric, pings on every tier
    many = estimate({"StandardSnapStart": "true", **OPEN, "PremiumProvisionedConcurrency": "2"})
    metric_lines = [x for x in many.lines if x.free_tier == "metrics"]
    metrics = sum(x.units for x in metric_lines)
    # THEN at most 10 metrics' worth, the dashboard, the direct-metric alarms, the pings and runs, the logs
    assert many.free_tier_usd == pytest.approx(
        sum(x.usd for x in metric_lines) * min(1.0, 10 / metrics) + price("cw_dashboard_month")
        + sum(x.usd for x in many.lines if x.free_tier in ("alarms", "lambda", "logs")))
    assert 0 < many.free_tier_usd < many.total


def test_the_default_stack_idles_under_30_usd_a_month(defaults: Any) -> None:
    # issue 14: the defaults idle at most 30 USD a month (what make cost prints for them)
    assert defaults.total <= 30.0
    # ... with the init phases as log fields: each pinged tier's metrics are KeepWarmPing,
    # KeepWarmColdPing and the init's own (InitDuration); keep-warm pings premium only while it is
    # open, so by default only standard's 3: the free tier's 10 cover them
    metrics = sum(x.units for x in defaults.lines if x.free_tier == "metrics")
    assert metrics == 1 * (2 + len(INIT_METRICS)) == 3
    assert not any(x.resource.startswith("PremiumFunction") for x in defaults.lines)
    assert defaults.free_tier_usd == pytest.approx(
        metrics * price("cw_custom_metric_month") + price("cw_dashboard_month")
        + sum(x.usd for x in defaults.lines if x.free_tier in ("alarms", "lambda", "logs")))


def test_snapstart_adds_the_snapshot_cache_at_the_functions_memory() -> None:
    small = estimate({"StandardSnapStart": "true", "FunctionMemorySize": "1024"})
    large = estimate({"StandardSnapStart": "true", "FunctionMemorySize": "4096"})
    cache = line(small, "StandardFunction SnapStart cache").usd
    assert cache > MONTH_S * price("snapstart_cache_gb_s")      # at least the live version, 1 GB
    assert line(large, "StandardFunction SnapStart cache").usd == pytest.approx(4 * cache)
    assert not [x for x in estimate({}).lines if "SnapStart" in x.resource]


def test_custom_metrics_are_counted_from_what_the_runtime_emits_and_keep_warms_pings(defaults: Any) -> None:
    # Each pinged CPU tier: KeepWarmPing, KeepWarmColdPing and the init's metrics (InitDuration;
    # the phases are log fields, no metric), under one init type.
    per_tier = 2 + len(INIT_METRICS)
    standard = line(defaults, "StandardFunction custom metrics")
    assert standard.idles.startswith(f"{per_tier} EMF metrics") and PHASE_PREFIX not in standard.idles
    assert standard.usd == pytest.approx(per_tier * price("cw_custom_metric_month"))
    fewer = estimate({"StandardWarmCount": "0", "PremiumWarmCount": "0"})
    assert not [x for x in fewer.lines if "custom metrics" in x.resource or "keep-warm pings" in x.resource]


def test_keep_warm_runs_follow_the_schedule(defaults: Any) -> None:
    every_10 = estimate({"KeepWarmSchedule": "rate(10 minutes)"})
    assert line(every_10, "StandardFunction keep-warm pings").usd == pytest.approx(
        line(defaults, "StandardFunction keep-warm pings").usd / 2)


def test_a_resource_type_without_a_rule_is_listed_unpriced_not_dropped() -> None:
    params = parameter_values(source_template())
    template = translate(params)
    template["Resources"]["Nat"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
    result = _Costing(template, params, PRICES).run()
    assert result.unpriced == ["Nat (AWS::EC2::NatGateway)"]


def test_the_price_file_is_dated_sourced_and_complete() -> None:
    assert datetime.date.fromisoformat(PRICES["date"]) <= datetime.date.today()
    assert PRICES["region"] == "us-east-1"
    for name, entry in PRICES["prices"].items():
        assert entry["unit"] and entry["evidence"], name
        assert entry["source"].startswith("https://aws.amazon.com/"), name
        values = [t["value"] for t in entry["types"].values()] if "types" in entry else [entry["value"]]
        assert all(isinstance(v, float | int) and v > 0 for v in values), name
    for name, entry in PRICES["assumptions"].items():
        assert entry["unit"] and entry["why"], name
    # every price and assumption the model reads is in the file
    code = Path(PRICE_FILE).with_name("model.py").read_text()
    assert set(re.findall(r'self\.price\("(\w+)"\)', code)) <= set(PRICES["prices"])
    assert set(re.findall(r'self\.assume\("(\w+)"\)', code)) <= set(PRICES["assumptions"])


def test_bad_input_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown template parameter.*NoSuchParameter"):
        estimate({"NoSuchParameter": "1"})
    assert main(["--param", "NoSuchParameter=1"]) == 2
    assert "NoSuchParameter" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--param", "no-equals-sign"])


def test_the_cli_prints_a_table_and_total_per_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--preset", "defaults", "--preset", "snapstart"]) == 0
    out = capsys.readouterr().out
    assert out.count("| **total** |") == 2
    assert "### snapstart: StandardSnapStart=true" in out


def test_the_rag_example_prices_its_served_model_from_its_generated_template(defaults: Any) -> None:
    # GIVEN issue 15's RAG example (template.yaml's tiers plus a reranker served on its own function)
    rag = estimate(PRESETS["rag"], template=TEMPLATES["rag"])
    # THEN the reranker's keep-warm pings (read from keep-warm's WARM_TARGETS), its metrics, its alarm
    # and the models' dashboard are priced beside everything the default stack has
    pings = line(rag, "RerankerFunction keep-warm pings")
    assert pings.usd > 0 and "2 a run" in pings.idles
    for resource in ("RerankerFunction custom metrics", "RerankerColdStartAlarm", "ModelsDashboard"):
        assert line(rag, resource).usd > 0
    assert {x.resource for x in defaults.lines} <= {x.resource for x in rag.lines}
    assert rag.total > defaults.total and not rag.unpriced
