"""Generate template.yaml's Rules that refuse a provisioned-concurrency minimum above its maximum.

CloudFormation Rules cannot compare numbers (the rule functions are Equals, Contains,
And, Or, Not and their list forms), so "min <= max" is written out: the maximum takes
one of a fixed set of values (its AllowedValues), and for each of them a rule asserts
that the minimum and the scheduled minimum are among the numbers up to it. A bad pair
is then refused before CloudFormation touches a resource, instead of failing half-way
through a deploy at Application Auto Scaling.

    python -m tools.template.capacity_rules   # prints the block to paste under Rules:

tests/unit/test_template_translated.py evaluates the Rules for every pair of values, so
the block in template.yaml cannot drift from what this prints.
"""

from __future__ import annotations

#: PremiumMaxProvisionedConcurrency's AllowedValues
MAX_VALUES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100)
#: the largest minimum a parameter accepts (MaxValue of both minimum parameters)
LARGEST_MINIMUM = 100


def _numbers(low: int, high: int) -> str:
    return "[" + ", ".join(f'"{n}"' for n in range(low, high + 1)) + "]"


def rules_yaml() -> str:
    lines = []
    for maximum in MAX_VALUES:
        if maximum >= LARGEST_MINIMUM:
            continue  # every accepted minimum fits: nothing to check
        lines += [
            f"  PremiumMinimumsFitMaximum{maximum}:",
            f'    RuleCondition: !Equals [!Ref PremiumMaxProvisionedConcurrency, "{maximum}"]',
            "    Assertions:",
            f"      - Assert: !Contains [{_numbers(0, maximum)}, !Ref PremiumProvisionedConcurrency]",
            f"        AssertDescription: PremiumProvisionedConcurrency must be at most "
            f"PremiumMaxProvisionedConcurrency ({maximum}).",
            f"      - Assert: !Contains [{_numbers(0, maximum)}, !Ref PremiumScheduledMinimum]",
            f"        AssertDescription: PremiumScheduledMinimum must be at most "
            f"PremiumMaxProvisionedConcurrency ({maximum}).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(rules_yaml(), end="")
