#!/usr/bin/python3
"""Regenerates fixtures/rules/*.json: each is fixtures/full_v1_export.json with
ONE rule broken, and carries its expectation in "_expect" (an unknown top-level
key, which the validator ignores): a list of [json path, message fragment],
one per line that `edgeml validate` must print -- and nothing else.
"valid_*" fixtures must validate. Run: /usr/bin/python3 make_fixtures.py"""
import copy, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = json.load(open(os.path.join(HERE, "fixtures", "full_v1_export.json")))
OUT = os.path.join(HERE, "fixtures", "rules")

FN = "Functions.Functions"
RES = "Resources.Resources"
POL = FN + "[%d].FunctionConfiguration.Environment.ResourceAccessPolicies[%d]"
S3 = RES + "[0].ResourceDataContainer.S3MachineLearningModelResourceData"
SM = RES + "[1].ResourceDataContainer.SageMakerMachineLearningModelResourceData"
DEV = RES + "[2].ResourceDataContainer.LocalDeviceResourceData"
VOL = RES + "[4].ResourceDataContainer.LocalVolumeResourceData"

def res(d, i): return d["Resources"]["Resources"][i]
def data(d, i): return next(iter(res(d, i)["ResourceDataContainer"].values()))
def fn(d, i): return d["Functions"]["Functions"][i]["FunctionConfiguration"]
def pol(d, i): return fn(d, i)["Environment"]["ResourceAccessPolicies"]

def secret(i):
    return {"Id": "extra-secret-%d" % i, "Name": "ExtraSecret%d" % i,
            "ResourceDataContainer": {"SecretsManagerSecretResourceData": {
                "ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:extra-%d" % i}}}

cases = {}
def case(name, expect):
    def deco(mut):
        cases[name] = (mut, expect)
        return mut
    return deco

# -- Id / Name: <=128 chars of [a-zA-Z0-9:_-], unique
@case("id_charset", [["Subscriptions.Subscriptions[0].Id", "[a-zA-Z0-9:_-]"]])
def _(d): d["Subscriptions"]["Subscriptions"][0]["Id"] = "to cloud!"
@case("id_too_long", [["Loggers.Loggers[0].Id", "1 to 128 characters"]])
def _(d): d["Loggers"]["Loggers"][0]["Id"] = "a" * 129
@case("id_empty", [[FN + "[2].Id", "1 to 128 characters"]])
def _(d): d["Functions"]["Functions"][2]["Id"] = ""
@case("name_charset", [[RES + "[0].Name", "[a-zA-Z0-9:_-]"]])
def _(d): res(d, 0)["Name"] = "Squeezenet Model"
@case("id_duplicate_logger", [["Loggers.Loggers[1].Id", "duplicate Id"]])
def _(d): d["Loggers"]["Loggers"][1]["Id"] = "system-fs-logger"
@case("id_duplicate_resource", [[RES + "[3].Id", "duplicate Id 'webcam'"]])
def _(d):
    res(d, 3)["Id"] = "webcam"
    pol(d, 3)[1]["ResourceId"] = "webcam"
@case("id_duplicate_function", [[FN + "[3].Id", "duplicate Id"]])
def _(d): d["Functions"]["Functions"][3]["Id"] = "xgboost-fn"
@case("id_duplicate_subscription", [["Subscriptions.Subscriptions[4].Id", "duplicate Id"]])
def _(d): d["Subscriptions"]["Subscriptions"][4]["Id"] = "classification-to-cloud"
@case("name_duplicate", [[RES + "[1].Name", "duplicate Name 'SqueezenetModel'"]])
def _(d): res(d, 1)["Name"] = "SqueezenetModel"
@case("function_arn_duplicate", [[FN + "[3].FunctionArn", "duplicate FunctionArn"]])
def _(d):
    arn = d["Functions"]["Functions"][2]["FunctionArn"]
    d["Functions"]["Functions"][3]["FunctionArn"] = arn
    d["Subscriptions"]["Subscriptions"][2]["Source"] = arn

# -- at most 50 resources per group, 10 access policies per function
@case("too_many_resources", [[RES, "at most 50"]])
def _(d): d["Resources"]["Resources"] += [secret(i) for i in range(44)]
@case("too_many_policies", [[FN + "[0].FunctionConfiguration.Environment.ResourceAccessPolicies", "at most 10"]])
def _(d):
    d["Resources"]["Resources"] += [secret(i) for i in range(7)]
    pol(d, 0).extend({"Permission": "ro", "ResourceId": "extra-secret-%d" % i} for i in range(7))

# -- absolute destination paths
@case("ml_destination_relative", [[S3 + ".DestinationPath", "must be an absolute path"]])
def _(d): data(d, 0)["DestinationPath"] = "greengrass-machine-learning/squeezenet"
@case("ml_destination_dotdot", [[SM + ".DestinationPath", "normalised absolute path"]])
def _(d): data(d, 1)["DestinationPath"] = "/ml/../etc"
@case("volume_destination_relative", [[VOL + ".DestinationPath", "must be an absolute path"]])
def _(d): data(d, 4)["DestinationPath"] = "scratch"

# -- device resources only under /dev
@case("device_not_under_dev", [[DEV + ".SourcePath", "must be under /dev/"]])
def _(d): data(d, 2)["SourcePath"] = "/home/pi/video0"
@case("device_dev_prefix_trick", [[DEV + ".SourcePath", "must be under /dev/"]])
def _(d): data(d, 2)["SourcePath"] = "/devices/video0"

# -- volume sources not /sys, /dev, /var; /proc read-only
@case("volume_source_sys", [[VOL + ".SourcePath", "must not be under /sys"]])
def _(d): data(d, 4)["SourcePath"] = "/sys/class/gpio"
@case("volume_source_dev", [[VOL + ".SourcePath", "must not be under /dev"]])
def _(d): data(d, 4)["SourcePath"] = "/dev"
@case("volume_source_var", [[VOL + ".SourcePath", "must not be under /var"]])
def _(d): data(d, 4)["SourcePath"] = "/var/lib/app"
@case("volume_proc_rw", [[POL % (3, 0) + ".Permission", "/proc may only be mounted ro"]])
def _(d): pol(d, 3)[0]["Permission"] = "rw"

# -- OwnerSetting needs both GroupOwner and GroupPermission
@case("owner_setting_no_permission", [[S3 + ".OwnerSetting", "GroupPermission is missing"]])
def _(d): del data(d, 0)["OwnerSetting"]["GroupPermission"]
@case("owner_setting_no_owner", [[SM + ".OwnerSetting", "GroupOwner is missing"]])
def _(d): del data(d, 1)["OwnerSetting"]["GroupOwner"]

# -- NoContainer / container permission matrix
@case("nocontainer_sets_permission", [[POL % (1, 0) + ".Permission", "must not be set for a NoContainer"]])
def _(d): pol(d, 1)[0]["Permission"] = "ro"
@case("nocontainer_needs_owner_setting", [[POL % (1, 0) + ".ResourceId", "needs ML resource 'sagemaker-xgboost' to have an OwnerSetting"]])
def _(d): del data(d, 1)["OwnerSetting"]
@case("nocontainer_default_mode", [[FN + "[3].FunctionConfiguration.MemorySize", "must not be set for a NoContainer"]])
def _(d):
    # DefaultConfig's NoContainer applies to function 3, which sets no mode
    # (functions 0-2 set their own)
    d["Functions"]["DefaultConfig"]["Execution"]["IsolationMode"] = "NoContainer"
@case("container_widens_permission", [[POL % (3, 2) + ".Permission", "may only narrow rw to ro"]])
def _(d): pol(d, 3).append({"Permission": "rw", "ResourceId": "sagemaker-xgboost"})
@case("container_permission_missing", [[POL % (0, 0) + ".Permission", "is required (ro or rw)"]])
def _(d): del pol(d, 0)[0]["Permission"]
@case("nocontainer_nested_destinations", [[SM + ".DestinationPath", "is inside the DestinationPath '/greengrass-machine-learning/mxnet/squeezenet'"]])
def _(d): data(d, 1)["DestinationPath"] = "/greengrass-machine-learning/mxnet/squeezenet/xgboost"
@case("nocontainer_equal_destinations", [[SM + ".DestinationPath", "equals the DestinationPath"]])
def _(d): data(d, 1)["DestinationPath"] = "/greengrass-machine-learning/mxnet/squeezenet"

# -- MemorySize required in container mode, refused in NoContainer
@case("memory_required_container", [[FN + "[0].FunctionConfiguration.MemorySize", "is required for a GreengrassContainer"]])
def _(d): del fn(d, 0)["MemorySize"]
@case("memory_refused_nocontainer", [[FN + "[2].FunctionConfiguration.MemorySize", "must not be set for a NoContainer"]])
def _(d): fn(d, 2)["MemorySize"] = 16384

# -- RunAs 0 refused unless the core allows it (--allow-run-as-root)
@case("runas_uid0", [[FN + "[0].FunctionConfiguration.Environment.Execution.RunAs.Uid", "root"]])
def _(d): fn(d, 0)["Environment"]["Execution"]["RunAs"]["Uid"] = 0
@case("runas_gid0_default", [["Functions.DefaultConfig.Execution.RunAs.Gid", "root group"]])
def _(d): d["Functions"]["DefaultConfig"]["Execution"]["RunAs"]["Gid"] = 0

# -- bucket names without '.'
@case("bucket_with_dot", [[S3 + ".S3Uri", "must not contain '.'"]])
def _(d): data(d, 0)["S3Uri"] = "s3://greengrass.models/squeezenet_v1.1.zip"

# -- exactly one Core
@case("core_none", [["Core.Cores", "exactly one core (found 0)"]])
def _(d): d["Core"]["Cores"] = []
@case("core_two", [["Core.Cores", "exactly one core (found 2)"]])
def _(d):
    c2 = dict(d["Core"]["Cores"][0], Id="second-core")
    d["Core"]["Cores"].append(c2)
@case("core_missing", [["Core", "is required"]])
def _(d): del d["Core"]

# -- references, shapes and types
@case("policy_unknown_resource", [[POL % (0, 1) + ".ResourceId", "is not the Id of a resource"]])
def _(d): pol(d, 0)[1]["ResourceId"] = "webcam2"
@case("subscription_unknown_function", [["Subscriptions.Subscriptions[0].Target", "is not in this group's Functions"]])
def _(d): d["Subscriptions"]["Subscriptions"][0]["Target"] = "arn:aws:lambda:us-west-2:123456789012:function:gone:1"
@case("subscription_bad_target", [["Subscriptions.Subscriptions[1].Source", "must be \"cloud\""]])
def _(d): d["Subscriptions"]["Subscriptions"][1]["Source"] = "Cloud"
@case("subscription_bad_topic", [["Subscriptions.Subscriptions[1].Subject", "'#' only as its whole last level"]])
def _(d): d["Subscriptions"]["Subscriptions"][1]["Subject"] = "camera/#/x"
@case("type_timeout_string", [[FN + "[0].FunctionConfiguration.Timeout", "must be an integer"]])
def _(d): fn(d, 0)["Timeout"] = "25"
@case("type_pinned_string", [[FN + "[1].FunctionConfiguration.Pinned", "must be true or false"]])
def _(d): fn(d, 1)["Pinned"] = "true"
@case("logger_bad_level", [["Loggers.Loggers[2].Level", "is not one of DEBUG, INFO, WARN, ERROR, FATAL"]])
def _(d): d["Loggers"]["Loggers"][2]["Level"] = "Info"
@case("resource_two_kinds", [[RES + "[6].ResourceDataContainer.SecretsManagerSecretResourceData", "exactly one kind, and this one already has LocalDeviceResourceData"]])
def _(d): res(d, 6)["ResourceDataContainer"]["LocalDeviceResourceData"] = {"SourcePath": "/dev/null"}
@case("resource_no_kind", [[RES + "[6].ResourceDataContainer", "must hold one of"]])
def _(d): res(d, 6)["ResourceDataContainer"] = {"SecretsManagerData": {}}
@case("isolation_mode_bad", [[FN + "[2].FunctionConfiguration.Environment.Execution.IsolationMode", "is not one of GreengrassContainer, NoContainer"]])
def _(d): fn(d, 2)["Environment"]["Execution"]["IsolationMode"] = "nocontainer"
@case("sha256_bad", [[FN + "[0].FunctionConfiguration.EdgemlCode.Sha256", "64 lowercase hexadecimal"]])
def _(d): fn(d, 0)["EdgemlCode"]["Sha256"] = "ABC"

# -- every violation is reported, not just the first
@case("many_violations", [[S3 + ".S3Uri", "must not contain '.'"],
                          [DEV + ".SourcePath", "must be under /dev/"],
                          [FN + "[2].FunctionConfiguration.MemorySize", "must not be set"],
                          ["Loggers.Loggers[0].Id", "[a-zA-Z0-9:_-]"]])
def _(d):
    data(d, 0)["S3Uri"] = "s3://a.b/c"
    data(d, 2)["SourcePath"] = "/tmp/video0"
    fn(d, 2)["MemorySize"] = 1
    d["Loggers"]["Loggers"][0]["Id"] = "bad id"

# -- must validate
@case("valid_definition_wrappers", [])
def _(d):
    # whole get-*-definition-version outputs (Arn, Id, Version, Definition)
    for key in ("Core", "Functions", "Resources", "Subscriptions", "Loggers"):
        d[key] = {"Arn": "arn:aws:greengrass:us-west-2:123456789012:/greengrass/definition/x",
                  "CreationTimestamp": "2024-03-01T10:22:33.123Z", "Definition": d[key],
                  "Id": "4e3d2c1b-0000-4000-8000-000000000000", "Version": "5f4e3d2c"}
@case("valid_core_only", [])
def _(d):
    for key in ("Functions", "Resources", "Subscriptions", "Loggers"):
        del d[key]
@case("valid_runas_root_allowed", [])
def _(d):
    fn(d, 0)["Environment"]["Execution"]["RunAs"]["Uid"] = 0
    d["_args"] = ["--allow-run-as-root"]

for f in os.listdir(OUT):
    if f.endswith(".json"):
        os.remove(os.path.join(OUT, f))
for name, (mut, expect) in sorted(cases.items()):
    d = copy.deepcopy(BASE)
    mut(d)
    d["_expect"] = expect
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(d, f, indent=1)
        f.write("\n")
print("%d fixtures" % len(cases))
