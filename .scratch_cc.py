import timeit, sys
sys.path.insert(0,"adapters/azure")
from portafunc_azure.codecs.topic import _writable, _own_copy
def _checked_copy(value):
    kind = value.__class__
    if kind is dict:
        out = value.copy()
        for key, item in out.items():
            if not key.isascii() and key.__class__ is str:
                key.encode()
            kind = item.__class__
            if kind is str:
                if not item.isascii():
                    item.encode()
            elif kind is dict or kind is list:
                out[key] = _checked_copy(item)
        return out
    if kind is list:
        out = value.copy()
        for index, item in enumerate(out):
            kind = item.__class__
            if kind is str:
                if not item.isascii():
                    item.encode()
            elif kind is dict or kind is list:
                out[index] = _checked_copy(item)
        return out
    if kind is str and not value.isascii():
        value.encode()
    return value
d={"id": "o-1", "total": 1.5}
big={"api":"PutBlockList","clientRequestId":"6d79dbfb-0e37-4fc4-981f-442c9ca65760","requestId":"831e1650-001e-001b-66ab-eeb76e000000","eTag":"0x8D4BCC2E4835CD0","contentType":"application/octet-stream","contentLength":524288,"blobType":"BlockBlob","url":"https://oc2d2817345i60006.blob.core.windows.net/oc2d2817345i200097container/oc2d2817345i20002296blob","sequencer":"00000000000004420000000000028963","storageDiagnostics":{"batchId":"b68529f3-68cd-4744-baa4-3c0498ec19f0"}}
assert _checked_copy(big) == big and _checked_copy(big) is not big and _checked_copy(big)["storageDiagnostics"] is not big["storageDiagnostics"]
try: _checked_copy({"a": ["x", {"b": "\ud800"}]}); print("MISSED")
except UnicodeEncodeError: print("caught")
def cur(v):
    _writable(v); 
    c = v.copy()
    for item in c.values():
        if item.__class__ is dict or item.__class__ is list:
            return _own_copy(v)
    return c
for r in range(3):
  for name,v in (("small",d),("blob",big)):
    n=300000
    print(name, "current", round(timeit.timeit(lambda: cur(v), number=n)/n*1e9), "fused", round(timeit.timeit(lambda: _checked_copy(v), number=n)/n*1e9))
