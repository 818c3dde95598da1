"""The API families, below every channel: one attempt loop and one module per family.

    _call        Call, Family (two hooks: where the credential goes, how an answer
                 becomes a value or a typed error) and Caller, the one attempt loop
    oapi         oapi.dingtalk.com: token in the query, errcode envelope (oapi_wire)
    v1           api.dingtalk.com: token in a header, status and code (v1_wire)
    top          the TOP router: every attempt signed, form body
    webhook      group robots: every attempt's URL signed (webhook_signing), errcode
                 map (webhook_errors), one governor budget per robot
    _ban         the per-IP ban page any family may answer

A channel builds ``Call`` objects and hands them to its family's caller; nothing here
imports a channel.
"""

from ._call import Call, Caller, Family, Secrets

__all__ = ["Call", "Caller", "Family", "Secrets"]
