"""Generate template.yaml's Rules that refuse a provisioned-concurrency minimum above its maximum.

CloudFormation Rules cannot compare numbers (the rule functions are Equals, Contains,
And, Or, Not and their list forms), so "min <= max" is written out: the maximum takes
one of a fixed set of values (its AllowedValues), and for each of them a rule asserts
that the minimum and the scheduled minimum are among the numbers up to it. A bad pair
is then refused before CloudFormation touches a resource, instead of failing half-way
through a deploy at Application Auto Scaling.

`make template` writes the block into template.yaml (tools/template/generate.py), and
tests/unit/test_template_translated.py evaluates the Rules for every pair of values.
"""

from __future__ import annotations

#: PremiumMaxProvisionedConcurrency's AllowedValues
MAX_VALUES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100)
#: the largest minimum a parameter accepts (MaxValue of both minimum parameters)
LARGEST_MINIMUM = 100
#: the parameters that must stay at most the maximum
MINIMUMS = ("PremiumProvisionedConcurrency", "PremiumScheduledMinimum")


def _numbers(low: int, high: int) -> str:
    return "[" + ", ".join(f'"{n}"' for n in range(low, high + 1)) + "]"


def rules_yaml() -> str:
    """One rule per allowed maximum below LARGEST_MINIMUM, two lines each (its name, then the rule in flow style)."""
    lines = []
    for maximum in MAX_VALUES:
        if maximum >= LARGEST_MINIMUM:
            continue  # every accepted minimum fits: nothing to check
        assertions = ", ".join(f'{{ Assert: !Contains [{_numbers(0, maximum)}, !Ref {name}], AssertDescription: '
                               f'"{name} must be at most PremiumMaxProvisionedConcurrency ({maximum})." }}'
                               for name in MINIMUMS)
        lines += [f"  PremiumMinimumsFitMaximum{maximum}:",
                  f'    {{ RuleCondition: !Equals [!Ref PremiumMaxProvisionedConcurrency, "{maximum}"], '
                  f"Assertions: [{assertions}] }}"]
    return "\n".join(lines) + "\n"
