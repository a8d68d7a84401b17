"""安全模式: AES-CBC message encryption as specified by WeChat, via wechatpy's PrpCrypto."""
from __future__ import annotations

import base64
import time

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException

from integrations.wechat.safexml import XmlRejected, parse_flat_xml
from integrations.wechat.signature import sign, verify


class DecryptError(ValueError):
    """Bad msg_signature, wrong AppID inside the ciphertext or undecryptable payload."""


class MessageCrypto:
    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("WECHAT_AES_KEY 必须是 43 位 EncodingAESKey")
        self.token, self.key, self.appid = token, key, appid

    def decrypt(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Verify the signature over the Encrypt field and return the inner plain XML."""
        outer = parse_flat_xml(body)
        encrypted = outer.get("Encrypt", "")
        if not encrypted:
            raise XmlRejected("missing Encrypt")
        if not verify(msg_signature, self.token, timestamp, nonce, encrypted):
            raise DecryptError("msg_signature mismatch")
        return self.decrypt_echo(encrypted)

    def decrypt_echo(self, encrypted: str) -> str:
        try:
            plain = PrpCrypto(self.key).decrypt(encrypted, self.appid)
            return plain.decode("utf-8") if isinstance(plain, bytes) else plain
        except InvalidAppIdException as exc:
            raise DecryptError("appid mismatch") from exc
        except Exception as exc:  # padding, base64, unicode: all mean a forged or broken payload
            raise DecryptError(type(exc).__name__) from exc

    def encrypt(self, xml: str, nonce: str, timestamp: str | None = None) -> str:
        timestamp = timestamp or str(int(time.time()))
        encrypted = PrpCrypto(self.key).encrypt(xml, self.appid)
        encrypted = encrypted.decode() if isinstance(encrypted, bytes) else encrypted
        signature = sign(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
