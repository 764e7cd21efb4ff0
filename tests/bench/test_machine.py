"""graphmdn_tf.bench.machine: the processor a bench report names, read from /proc/cpuinfo texts."""

import platform

from graphmdn_tf.bench.machine import (
    VECTOR_EXTENSIONS,
    describe_processor,
    parse_cpuinfo,
    processor_label,
)

# Two logical processors of an x86 machine, abridged; the second has other flags so that reading past
# the first block would show.
X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R)  Xeon(R) Processor
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq amx_tile amx_bf16 avx512_bf16

processor\t: 1
model name\t: Another Processor
flags\t\t: fpu sse sse2 neon sve
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid sve

processor\t: 1
Features\t: fp asimd

Hardware\t: Neoverse-V2
"""


def test_the_first_processor_s_model_and_extensions_in_report_order():
    assert parse_cpuinfo(X86) == {
        "cpu_model": "Intel(R) Xeon(R) Processor",  # runs of spaces folded
        "cpu_vector_extensions": ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"],
    }


def test_an_arm_text_gives_its_features_and_no_model_from_other_blocks():
    assert parse_cpuinfo(ARM) == {"cpu_model": None, "cpu_vector_extensions": ["sve"]}


def test_an_empty_text_names_nothing():
    assert parse_cpuinfo("") == {"cpu_model": None, "cpu_vector_extensions": []}


def test_this_machine_is_described_from_its_cpuinfo(tmp_path):
    described = describe_processor()
    assert set(described) == {"cpu_model", "cpu_vector_extensions"}
    assert set(described["cpu_vector_extensions"]) <= set(VECTOR_EXTENSIONS)
    (tmp_path / "cpuinfo").write_text(X86)
    assert describe_processor(tmp_path / "cpuinfo") == parse_cpuinfo(X86)
    # No readable cpuinfo: the platform's processor string (or None), no extensions.
    assert describe_processor(tmp_path / "missing") == {
        "cpu_model": platform.processor() or None,
        "cpu_vector_extensions": [],
    }


def test_the_label_lists_the_model_and_its_extensions():
    assert processor_label(parse_cpuinfo(X86)) == (
        "Intel(R) Xeon(R) Processor; avx2, fma, avx512f, avx512_bf16, amx_tile, amx_bf16"
    )
    assert processor_label({"cpu_model": "Some CPU", "cpu_vector_extensions": []}) == "Some CPU"
    assert processor_label({}) == "unknown processor"
