"""The library's machinery, not its public API (as aws-cdk's ``lib/private``): names here may
change in any release. The public names are those ``constructs_lib/__init__.py`` lists."""
