import logging

# bitsandbytes 0.50 on a CPU with AVX512-BF16 tries, when it is imported, to load a fused 4-bit kernel from the
# Hugging Face hub through the optional `kernels` package, and logs a warning on stderr when it cannot. ftlab
# never uses that fused path (ftlab.models.portable_4bit: it computes in bfloat16 whatever
# bnb_4bit_compute_dtype says, so results would depend on the CPU, and it fails on layers narrower than the
# 4-bit block size), so the warning is noise on every stage's stderr: silenced here, before anything imports
# bitsandbytes. With `kernels` not installed (it is no dependency) and HF_HUB_OFFLINE=1, nothing is fetched.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
