"""How IEEE 2030.5 resources answer each HTTP method: the mode the 2030.5 WADL gives every method of every
resource, and the resource a link names.

A mode is M (mandatory: the server must support the method), O (optional), D (discouraged) or E (error: the
server must refuse it, 405 Method Not Allowed). Optional and discouraged methods a server does not implement are
refused with 405 or 501 (CSIP CORE-001 errata 30). Resources are named as the WADL names them, which is also the
name of the link to them without its "Link" suffix (DERProgramListLink -> DERProgramList); where the resource is
served as another element (ActiveDERControlList is a DERControlList) ELEMENT_OF says which.
"""

from __future__ import annotations

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
MANDATORY, OPTIONAL, DISCOURAGED, ERROR = "M", "O", "D", "E"

# resource -> the modes of GET, HEAD, PUT, POST and DELETE, in that order.
_MODES: dict[str, str] = {
    "DeviceCapability": "MMEEE",
    "SelfDevice": "MMDEE",
    "EndDeviceList": "MMEOE",
    "EndDevice": "MMOEO",
    "Registration": "MMOEO",
    "DeviceStatus": "MMMEO",
    "FunctionSetAssignmentsList": "MMEDE",
    "FunctionSetAssignments": "MMEED",
    "SubscriptionList": "MMEME",
    "Subscription": "MMMEM",
    "NotificationList": "DDEME",
    "Notification": "DDEEE",
    "ResponseSetList": "OOEDE",
    "ResponseSet": "OOEED",
    "ResponseList": "OOEME",
    "Response": "OOEEO",
    "PriceResponse": "OOEEO",
    "TextResponse": "OOEEO",
    "DERControlResponse": "OOEEO",
    "FlowReservationResponseResponse": "OOEEO",
    "DrResponse": "OOEEO",
    "Time": "MMDEE",
    "DeviceInformation": "MMMEO",
    "SupportedLocaleList": "MMEME",
    "SupportedLocale": "MMMEM",
    "PowerStatus": "MMMEE",
    "IPInterfaceList": "MMEOE",
    "IPInterface": "MMOEO",
    "IPAddrList": "MMEOE",
    "IPAddr": "MMOEO",
    "RPLInstanceList": "MMEOE",
    "RPLInstance": "MMOEO",
    "RPLSourceRoutesList": "MMEOE",
    "RPLSourceRoutes": "MMOEO",
    "LLInterfaceList": "MMEOE",
    "LLInterface": "MMOEO",
    "NeighborList": "MMEOE",
    "Neighbor": "MMOEO",
    "LogEventList": "MMEME",
    "LogEvent": "MMOEM",
    "Configuration": "MMMEE",
    "PriceResponseCfgList": "MMEME",
    "PriceResponseCfg": "MMMEM",
    "FileList": "MMEDE",
    "File": "MMDED",
    "FileStatus": "MMMEE",
    "DemandResponseProgramList": "MMEDE",
    "DemandResponseProgram": "MMEED",
    "ActiveEndDeviceControlList": "MMEEE",
    "EndDeviceControlList": "MMEDE",
    "EndDeviceControl": "MMEED",
    "LoadShedAvailabilityList": "MMEME",
    "LoadShedAvailability": "MMOEM",
    "UsagePointList": "MMEOE",
    "UsagePoint": "MMEEO",
    "MeterReadingList": "MMEOE",
    "MeterReading": "MMEEO",
    "ReadingType": "MMOEE",
    "ReadingSetList": "MMEOE",
    "ReadingSet": "MMEEO",
    "ReadingList": "MMEOE",
    "Reading": "MMOEO",
    "MirrorUsagePointList": "MMEME",
    "MirrorUsagePoint": "OOMMM",
    "TariffProfileList": "MMEDE",
    "TariffProfile": "MMEED",
    "RateComponentList": "MMEDE",
    "RateComponent": "MMEED",
    "ActiveTimeTariffIntervalList": "MMEEE",
    "TimeTariffIntervalList": "MMEDE",
    "TimeTariffInterval": "MMEED",
    "ConsumptionTariffIntervalList": "MMEDE",
    "ConsumptionTariffInterval": "MMEED",
    "MessagingProgramList": "MMEDE",
    "MessagingProgram": "MMEED",
    "ActiveTextMessageList": "MMEEE",
    "TextMessageList": "MMEDE",
    "TextMessage": "MMEED",
    "CustomerAccountList": "MMEDE",
    "CustomerAccount": "MMEED",
    "CustomerAgreementList": "MMEDE",
    "CustomerAgreement": "MMEED",
    "ActiveBillingPeriodList": "MMEEE",
    "BillingPeriodList": "MMEDE",
    "BillingPeriod": "MMDED",
    "ProjectionReadingList": "MMEDE",
    "ProjectionReading": "MMDED",
    "BillingReadingSetList": "MMEDE",
    "BillingReadingSet": "MMEED",
    "BillingReadingList": "MMEDE",
    "BillingReading": "MMDED",
    "TargetReadingList": "MMEDE",
    "TargetReading": "MMEED",
    "HistoricalReadingList": "MMEDE",
    "HistoricalReading": "MMEED",
    "ServiceSupplier": "MMEED",
    "PrepaymentList": "MMEDE",
    "Prepayment": "MMEED",
    "AccountBalance": "MMDEE",
    "PrepayOperationStatus": "MMDEE",
    "ActiveSupplyInterruptionOverrideList": "MMEEE",
    "SupplyInterruptionOverrideList": "MMEDE",
    "SupplyInterruptionOverride": "MMDED",
    "CreditRegisterList": "MMEOE",
    "CreditRegister": "MMEEO",
    "FlowReservationRequestList": "MMEME",
    "FlowReservationRequest": "MMMEO",
    "FlowReservationResponseList": "MMEDE",
    "FlowReservationResponse": "MMEED",
    "DERList": "MMEOE",
    "DER": "MMOEO",
    "AssociatedUsagePoint": "MMEEO",
    "AssociatedDERProgramList": "MMEOE",
    "CurrentDERProgram": "MMEEO",
    "DERSettings": "MMMEE",
    "DERStatus": "MMMEE",
    "DERAvailability": "MMMEE",
    "DERCapability": "MMMEE",
    "DERProgramList": "MMEOE",
    "DERProgram": "MMEEO",
    "ActiveDERControlList": "MMEEE",
    "DERControlList": "MMEOE",
    "DERControl": "MMEEO",
    "DefaultDERControl": "MMOEE",
    "DERCurveList": "MMEOE",
    "DERCurve": "MMEEO",
}

# Resources served as another global element than their own name.
ELEMENT_OF: dict[str, str] = {
    "ActiveEndDeviceControlList": "EndDeviceControlList",
    "ActiveTimeTariffIntervalList": "TimeTariffIntervalList",
    "ActiveTextMessageList": "TextMessageList",
    "ActiveBillingPeriodList": "BillingPeriodList",
    "ActiveSupplyInterruptionOverrideList": "SupplyInterruptionOverrideList",
    "AssociatedUsagePoint": "UsagePoint",
    "AssociatedDERProgramList": "DERProgramList",
    "CurrentDERProgram": "DERProgram",
    "ActiveDERControlList": "DERControlList",
}


# Resources a client writes (PUT) and its server only hosts and links: DeviceStatus, DeviceInformation, PowerStatus
# and FileStatus of an EndDevice, DERCapability, DERSettings, DERStatus and DERAvailability of a DER. Their required
# elements are the client's data (DERCapability's rtgMaxW, DeviceStatus's changedTime...), so until their client has
# PUT them a server has nothing schema-valid to serve: 404 Not Found (or 204 No Content) answers a GET of one linked
# but not written yet (the CSIP server links them for the DER client to PUT to).
CLIENT_WRITTEN = frozenset({"DeviceStatus", "DeviceInformation", "PowerStatus", "FileStatus", "DERCapability",
                            "DERSettings", "DERStatus", "DERAvailability"})


def client_written(resource: str) -> bool:
    """Whether resource is one its client writes and a server may link before it is written (CLIENT_WRITTEN)."""
    return resource in CLIENT_WRITTEN


def known(resource: str) -> bool:
    """Whether the 2030.5 WADL names resource (DERProgramList, ActiveDERControlList...)."""
    return resource in _MODES


def mode(resource: str, method: str) -> str | None:
    """The WADL mode (M, O, D or E) of method on resource, or None when the WADL names neither."""
    modes = _MODES.get(resource)
    if modes is None or method not in METHODS:
        return None
    return modes[METHODS.index(method)]


def element_of(resource: str) -> str:
    """The global element a resource is served as (ActiveDERControlList -> DERControlList; else its own name).

    An Active...List the WADL does not name (ActiveCreditRegisterList, ActiveTargetReadingList, links of the
    2018 schema) is served as the list it is the active part of, as every Active...List the WADL names is.
    """
    if resource in ELEMENT_OF:
        return ELEMENT_OF[resource]
    if resource.startswith("Active") and resource.endswith("List") and resource not in _MODES:
        return resource.removeprefix("Active")
    return resource


def resource_of_link(link: str) -> str:
    """The resource a link element names: its name without the "Link" suffix (TimeLink -> Time)."""
    return link.removesuffix("Link")
