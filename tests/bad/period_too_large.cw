# expect: 5:23: period is too large
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
# 2**63 is one past the largest whole number a schedule may write
compute s1 when every 9223372036854775808
output fuse(s1)
