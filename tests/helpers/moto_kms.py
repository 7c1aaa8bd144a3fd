"""`python -m tests.helpers.moto_kms`: moto's server, its KMS ciphertext able to name a multi-region key.

moto packs the id of the key into a 36-byte field of its ciphertext (moto/kms/utils.py KEY_ID_LEN, 5.2.5 and
getmoto/moto@0d75cdc38b5f475cfed42f9f3741bbc6719603df alike): a multi-region key's id, `mrk-` and a UUID, is 40 bytes
and is cut short, so nothing encrypted under one ever decrypts (AccessDeniedException). The field is widened to 40
bytes and a shorter id's padding stripped on the way back; everything else is moto's own.
"""

from __future__ import annotations

import sys

from moto.kms import utils
from moto.server import main

_deserialize = utils._deserialize_ciphertext_blob


def _widen() -> None:
    utils.KEY_ID_LEN = len("mrk-") + 36
    utils.HEADER_LEN = utils.KEY_ID_LEN + utils.IV_LEN + utils.TAG_LEN
    utils.CIPHERTEXT_HEADER_FORMAT = f">{utils.KEY_ID_LEN}s{utils.IV_LEN}s{utils.TAG_LEN}s"

    def deserialize(ciphertext_blob: bytes) -> utils.Ciphertext:
        found = _deserialize(ciphertext_blob)
        return found._replace(key_id=found.key_id.rstrip("\x00"))

    utils._deserialize_ciphertext_blob = deserialize


if __name__ == "__main__":
    _widen()
    main(sys.argv[1:])
