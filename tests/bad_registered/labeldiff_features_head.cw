# expect: 7:25: labeldiff compares class labels (the argmax of a stage's deepest head), but the deepest head of stage 's2', 'embed_b', gives features, not class scores
# `test_labeldiff_net` is registered by tests/test_labeldiff.py: its head embed_b gives features.
network test_labeldiff_net
stage s1 = a .. a head score_a
stage s2 = b .. b head embed_b
stage s3 = c .. c head score_c
clock moved = labeldiff(s2, region=image) >= 0.1
compute s1 when 1
compute s2 when 1
compute s3 when moved or labeldiff(s1) > 0.2
output fuse(s1, s2, s3)
